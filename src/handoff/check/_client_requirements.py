"""What `handoff check client` tests: each requirement with its level and the spec section that asks it.

Sections are titles in the MCP specification's client/elicitation page (both eras) or, for the
2026-07-28 retries, its basic/patterns/mrtr page. Where the issue that asked for a check goes beyond
the spec (a bound on retries in 2026-07-28), the requirement says so and is a SHOULD; a behaviour the
spec only allows (a retry after the completion notice) is a MAY.
"""

from __future__ import annotations

from ._report import Level, Requirement

LEGACY = "2025-11-25"
MODERN = "2026-07-28"

DECLARES_URL = Requirement(
    "client.capability.declared",
    Level.MUST,
    "Capabilities",
    "Declares the elicitation capability with url mode (2025-11-25: at initialize; 2026-07-28: in "
    "_meta of every request)",
)
HONOURS_URL = Requirement(
    "client.mode.honoured",
    Level.MUST,
    "Capabilities",
    "Supports the mode it declared: answers a url mode elicitation/create with accept, decline or "
    "cancel, not an error",
)
UNDECLARED_MODE = Requirement(
    "client.mode.undeclared-refused",
    Level.MUST,
    "Error Handling",
    "Answers an elicitation/create in a mode it did not declare with error -32602 (Invalid params)",
)
SERVER_NAMED = Requirement(
    "client.server.named",
    Level.MUST,
    "Security Considerations",
    "Shows clearly which server asks (its name or address appears before the link is answered)",
)
URL_SHOWN = Requirement(
    "client.url.shown",
    Level.MUST,
    "Safe URL Handling",
    "Shows the full URL to the person for examination before consent",
)
CONSENT = Requirement(
    "client.consent.before-open",
    Level.MUST,
    "Safe URL Handling",
    "Does not open the URL without explicit consent: nothing opens before the person accepts, or "
    "after the person declines",
)
NO_PREFETCH = Requirement(
    "client.url.no-prefetch",
    Level.MUST,
    "Safe URL Handling",
    "Does not pre-fetch the URL or any of its metadata (only the browser goes there)",
)
BLOCKED = Requirement(
    "client.url.blocked-not-opened",
    Level.MUST,
    "Safe URL Handling",
    "Handles URLs carefully: never opens a javascript:, data: or file: link, even when the person accepts",
)
LOOKALIKE = Requirement(
    "client.url.lookalike-warned",
    Level.SHOULD,
    "Safe URL Handling",
    "Warns about ambiguous or suspicious URIs (punycode look-alikes of well-known domains): such a "
    "link is not opened without a person having seen it",
)
NOTICE_UNKNOWN = Requirement(
    "client.notice.unknown-ignored",
    Level.MUST,
    "Completion Notifications for URL Mode Elicitation",
    "Ignores a notifications/elicitation/complete for an unknown elicitationId (no retry on it)",
)
NOTICE_REPEATED = Requirement(
    "client.notice.repeat-ignored",
    Level.MUST,
    "Completion Notifications for URL Mode Elicitation",
    "Ignores a notifications/elicitation/complete for an already-completed elicitationId (no retry on it)",
)
RETRY_ONCE = Requirement(
    "client.notice.retried-once",
    Level.MAY,
    "Completion Notifications for URL Mode Elicitation",
    "After the completion notice for a -32042 error's elicitation, retries the original call once: "
    "not before the notice, not twice",
)
WAIT_BOUNDED = Requirement(
    "client.wait.bounded",
    Level.SHOULD,
    "Completion Notifications for URL Mode Elicitation",
    "Does not wait forever when the completion notice never arrives (gives up, or lets the person "
    "retry or cancel)",
)
RETRY_BOUNDED = Requirement(
    "client.retry.bounded",
    Level.SHOULD,
    "Security Considerations",
    "Rate-limits: stops retrying a call that the server keeps answering with new URL elicitations "
    "(2026-07-28 asks nothing here; handoff checks it as in 2025-11-25)",
)
NEW_ID = Requirement(
    "client.mrtr.new-id",
    Level.MUST,
    "Client Requirements (Basic Workflow)",
    "Retries with a JSON-RPC id different from the original request's",
)
INPUTS_BUILT = Requirement(
    "client.mrtr.inputs-answered",
    Level.MUST,
    "Client Requirements (Basic Workflow)",
    "Constructs the requested inputs before retrying: the retry's inputResponses answer every key of "
    "inputRequests",
)
STATE_ECHOED = Requirement(
    "client.mrtr.state-echoed",
    Level.MUST,
    "Client Requirements (Basic Workflow)",
    "Echoes back the exact requestState when retrying",
)
NO_STATE = Requirement(
    "client.mrtr.no-invented-state",
    Level.MUST,
    "Client Requirements (Basic Workflow)",
    "Sends no requestState in a retry when the InputRequiredResult carried none",
)
