"""What a conformance check found: one result per requirement, shown as a table or as JSON."""

from __future__ import annotations

import json
from collections.abc import Iterable
from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any

from .._exact import printable


class Level(StrEnum):
    """How strongly the spec asks for a requirement (RFC 2119 words)."""

    MUST = "MUST"
    SHOULD = "SHOULD"
    MAY = "MAY"
    """Allowed, not asked: checked because the expected behaviour is what the spec allows (a retry
    after a completion notice, say); never fatal."""


class Outcome(StrEnum):
    PASS = "PASS"  # noqa: S105 (an outcome, not a password)
    FAIL = "FAIL"
    SKIP = "SKIP"


@dataclass(frozen=True)
class Requirement:
    """One thing the spec asks, named so that a reader can find it: `id` is stable for scripts,
    `section` is the title of the spec section (or security best practice) that asks it."""

    id: str
    level: Level
    section: str
    text: str


@dataclass(frozen=True)
class Result:
    requirement: Requirement
    outcome: Outcome
    reason: str
    era: str | None = None
    """The protocol version it was checked in (None: it does not depend on the era)."""

    def as_dict(self) -> dict[str, Any]:
        return {
            "id": self.requirement.id,
            "level": self.requirement.level.value,
            "section": self.requirement.section,
            "requirement": self.requirement.text,
            "era": self.era,
            "outcome": self.outcome.value,
            "reason": self.reason,
        }


@dataclass
class Report:
    """Every result of one run against one `target` (a server's URL or command, or a client)."""

    kind: str
    target: str
    results: list[Result] = field(default_factory=list)
    stopped: list[str] = field(default_factory=list)
    """Why checks stopped before their end (a deadline, what the target sent): what they did not
    reach is skipped, and the run did not finish."""
    notes: list[str] = field(default_factory=list)
    """What a reader should know about how the checks ran (as whom an era ran, say)."""

    def add(self, requirement: Requirement, outcome: Outcome, reason: str, era: str | None = None) -> Result:
        result = Result(requirement, outcome, reason, era)
        self.results.append(result)
        return result

    def passed(self, requirement: Requirement, reason: str, era: str | None = None) -> Result:
        return self.add(requirement, Outcome.PASS, reason, era)

    def failed(self, requirement: Requirement, reason: str, era: str | None = None) -> Result:
        return self.add(requirement, Outcome.FAIL, reason, era)

    def skipped(self, requirement: Requirement, reason: str, era: str | None = None) -> Result:
        return self.add(requirement, Outcome.SKIP, reason, era)

    def outcome(self, requirement_id: str, era: str | None = None) -> Outcome | None:
        """The outcome of one requirement (in one era), for scripts and tests; None if not checked."""
        found = [r.outcome for r in self.results if r.requirement.id == requirement_id and r.era == era]
        if not found:
            return None
        return Outcome.FAIL if Outcome.FAIL in found else found[-1]

    @property
    def must_failures(self) -> list[Result]:
        return [r for r in self.results if r.outcome is Outcome.FAIL and r.requirement.level is Level.MUST]

    @property
    def tested_nothing(self) -> bool:
        """No MUST was observed either way: every one was skipped (or none was checked)."""
        return not any(
            r.outcome is not Outcome.SKIP and r.requirement.level is Level.MUST for r in self.results
        )

    @property
    def exit_code(self) -> int:
        """0 when no MUST failed (SHOULD failures and skips are reported, not fatal), 1 when one did,
        2 when none did but the checks stopped before their end, 3 when they ran to their end and
        tested nothing (every MUST skipped)."""
        if self.must_failures:
            return 1
        return 2 if self.stopped else 3 if self.tested_nothing else 0

    def counts(self) -> dict[str, int]:
        counts = {o.value: 0 for o in Outcome}
        for r in self.results:
            counts[r.outcome.value] += 1
        return counts

    def as_json(self) -> str:
        return json.dumps(
            {
                "kind": self.kind,
                "target": self.target,
                "ok": self.exit_code == 0,
                "verdict": self.verdict(),
                "counts": self.counts(),
                **({"stopped": self.stopped} if self.stopped else {}),
                **({"notes": self.notes} if self.notes else {}),
                "results": [r.as_dict() for r in self.results],
            },
            indent=2,
        )  # \u escapes: no control or bidi character a server or client sent reaches a terminal

    def as_table(self, width: int | None = None) -> str:
        """A table for a terminal: one row per result, then a one-line verdict."""
        from rich.console import Console
        from rich.table import Table
        from rich.text import Text

        title = Text(printable(f"handoff check {self.kind}: {self.target}", lines=False))
        table = Table(title=title, title_justify="left", expand=False)
        for column in ("", "Level", "Era", "Requirement", "Reason"):
            table.add_column(column, overflow="fold")
        style = {Outcome.PASS: "green", Outcome.FAIL: "bold red", Outcome.SKIP: "yellow"}
        for r in self.results:
            table.add_row(
                Text(r.outcome.value, style=style[r.outcome]),
                r.requirement.level.value,
                r.era or "both",
                Text(f"{r.requirement.text}\n")
                + Text(f"{r.requirement.section} · {r.requirement.id}", "dim"),
                Text(printable(r.reason)),
            )
        console = Console(width=width or 120, record=True, force_terminal=False, no_color=True)
        with console.capture() as captured:
            console.print(table)
            for note in self.notes:
                console.print(Text(printable(f"Note: {note}", lines=False)))
            console.print(self.verdict())
        return captured.get()

    def verdict(self) -> str:
        c = self.counts()
        musts = len(self.must_failures)
        if musts:
            head = f"does not conform: {musts} MUST failed"
        elif self.stopped:
            head = "did not finish: " + printable("; ".join(self.stopped), lines=False)
        elif self.tested_nothing:
            head = "nothing tested: every MUST was skipped (see why in the reasons)"
        else:
            head = "conforms"
        return f"{head} ({c['PASS']} passed, {c['FAIL']} failed, {c['SKIP']} skipped)"


def merge(kind: str, target: str, parts: Iterable[Report]) -> Report:
    """One report out of several partial ones (one per era, say), in order."""
    report = Report(kind, target)
    for part in parts:
        report.results.extend(part.results)
        report.stopped.extend(part.stopped)
        report.notes.extend(part.notes)
    return report
