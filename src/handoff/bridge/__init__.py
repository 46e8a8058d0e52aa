"""`handoff bridge`: URL mode elicitation for any MCP client, through a local proxy.

The bridge is a stdio MCP server for the client in front of it, connected upstream with handoff's
own client (sign-in, link check, consent, completion). It mirrors the upstream's tools; a link the
upstream sends goes to the client in the way it declared: URL mode after the bridge's link check,
a consent form (the bridge then opens the browser itself), or a tool result with the link for
clients without elicitation (the next identical call resumes the step).
"""

from ._server import Bridge, run_bridge

__all__ = ["Bridge", "run_bridge"]
