"""Consent: a person decides, seeing who asks, what for, and where the link really goes."""

from __future__ import annotations

import enum
from dataclasses import dataclass
from typing import Literal, Protocol

from ._urlcheck import UrlReport


class Decision(enum.StrEnum):
    ACCEPT = "accept"
    DECLINE = "decline"
    CANCEL = "cancel"


@dataclass(frozen=True)
class ConsentRequest:
    """Everything a person needs to decide about one URL elicitation."""

    server: str
    """Which server asks (its name, or its address when it gave none)."""
    message: str
    """The server's reason, as plain text: shown, never rendered as markup or a link."""
    url: str
    report: UrlReport
    elicitation_id: str | None = None

    @property
    def may_accept(self) -> bool:
        return self.report.verdict != "block"


class Consent(Protocol):
    """Asks a person (or applies a policy) before any URL is opened or fetched."""

    async def ask(self, request: ConsentRequest) -> Decision: ...


class PolicyConsent:
    """Non-interactive consent for scripts: accept URLs up to a verdict, decline the rest.

    `accept="ok"` takes only URLs with nothing suspicious; `"warn"` also takes
    URLs with warnings; `"none"` declines everything. Blocked URLs are never
    accepted, whatever the policy.
    """

    def __init__(self, accept: Literal["ok", "warn", "none"] = "ok") -> None:
        self.accept = accept
        self.asked: list[ConsentRequest] = []

    async def ask(self, request: ConsentRequest) -> Decision:
        self.asked.append(request)
        allowed = {"ok": ("ok",), "warn": ("ok", "warn"), "none": ()}[self.accept]
        return Decision.ACCEPT if request.report.verdict in allowed else Decision.DECLINE
