"""The bridge's consent: a link the upstream server sends waits for the client in front to decide
(or for `--accept`), and is opened by the bridge only when the person chose that."""

from __future__ import annotations

import logging
from urllib.parse import urlsplit

import anyio

from .._exact import printable
from ..client import ConsentRequest, Decision, Opener, UrlReport, system_browser
from ._steps import Ask, Steps

logger = logging.getLogger("handoff.bridge")

OPEN, NOT_NOW = "open in my browser", "not now"
"""The two choices of the consent form."""


def safe_url(url: str) -> str:
    """A link for the log: scheme, host and path only (a query string may carry a state or a code)."""
    try:
        parts = urlsplit(url)
        port = f":{parts.port}" if parts.port else ""
    except ValueError:
        return "(a link that does not parse)"
    return printable(f"{parts.scheme}://{parts.hostname or ''}{port}{parts.path}", lines=False)


def findings(report: UrlReport) -> str:
    """The check's verdict and findings, one per line, for a person reading plain text."""
    marks = {"ok": "nothing suspicious found", "warn": "WARNING", "block": "BLOCKED"}
    lines = [f"Link check: {marks[report.verdict]}"]
    if report.registrable_domain:
        lines.append(f"Registered domain: {report.registrable_domain} (who you are really dealing with)")
    lines += [f"- {reason.text}" for reason in report.reasons if reason.severity != "note"]
    return printable("\n".join(lines))


def consent_text(request: ConsentRequest) -> str:
    """The form-mode question: who asks, why, the full link with its registered domain, the check."""
    report = request.report
    return printable(
        f"{request.server} asks you to open a link in your browser.\n"
        f"Its message: {request.message or '(none)'}\n"
        f"Link: {report.href or request.url}\n"
        f"{findings(report)}\n"
        f"Nothing you type goes through this window: the page opens in your own browser."
    )


def link_text(request: ConsentRequest) -> str:
    """What a client without elicitation gets: the link, the check, and what to do next."""
    report = request.report
    return printable(
        f"{request.server} needs you to finish a step in your browser: "
        f"{request.message or '(no reason given)'}\n"
        f"Open this link yourself: {report.href or request.url}\n"
        f"{findings(report)}\n"
        "Call the tool again when you are done."
    )


def passed_on(request: ConsentRequest) -> str:
    """The message of a link passed on to a client with URL mode: the check's findings first."""
    return printable(f"{findings(request.report)}\n{request.server}: {request.message}")


class BridgeConsent:
    """Puts each link on the step whose call it belongs to, and waits for the decision made there.

    A link that belongs to no step (the server asked outside any call the bridge knows) is
    declined. The decision waits at most `timeout` seconds (then it is cancelled). A link asked
    about again during the same call (the same elicitation id, else the same address) gets the
    first answer without a second question, and is not opened again."""

    def __init__(self, steps: Steps, *, timeout: float = 600.0, browser: Opener = system_browser) -> None:
        self.steps = steps
        self.timeout = timeout
        self.browser = browser
        self._opens: dict[str, bool] = {}

    async def ask(self, request: ConsentRequest) -> Decision:
        step = self.steps.owner()
        if step is None:
            logger.warning("declined a link from %s that belongs to no call", printable(request.server))
            return Decision.DECLINE
        same = request.elicitation_id or request.report.href or request.url
        if same in step.answers:  # asked again for the same step: the person was asked once already
            logger.info(
                "%s: the same link again: %s", printable(step.tool, lines=False), step.answers[same].value
            )
            return step.answers[same]
        ask = Ask(request)
        step.push(ask)
        try:
            with anyio.move_on_after(self.timeout):
                await ask.decided.wait()
        except anyio.get_cancelled_exc_class():
            logger.info("%s: the server withdrew its link", printable(step.tool, lines=False))
            ask.decide(Decision.CANCEL)  # the question goes away in the client too
            raise
        step.answers[same] = ask.decision
        logger.info(
            "%s: link to %s (%s): %s%s",
            printable(step.tool, lines=False),
            safe_url(request.url),
            request.report.verdict,
            ask.decision.value,
            ", opened by the bridge" if ask.opens and ask.decision is Decision.ACCEPT else "",
        )
        self._opens[request.report.href or request.url] = ask.opens
        return ask.decision

    async def open(self, url: str) -> None:
        """The opener: the system browser when the person chose it here, else nothing (the client in
        front shows the link, or the person opens it from a tool result)."""
        if self._opens.pop(url, False):
            await self.browser(url)
