"""Scoring a run: what holds across the scenarios of one era, over every link the servers sent.

Consent, the URL shown, the server named, nothing pre-fetched, blocked links never opened: each is
judged from three records — what the client printed (and when), what the person answered, and what
reached the browser stand-in or a checker page. Where one of those cannot be seen (a client served
with --serve, a client that consents by its own policy), the check is skipped with the reason.
"""

from __future__ import annotations

from collections.abc import Sequence

from ._client_requirements import (
    BLOCKED,
    CONSENT,
    DECLARES_URL,
    HONOURS_URL,
    INPUTS_BUILT,
    LEGACY,
    LOOKALIKE,
    MODERN,
    NEW_ID,
    NO_PREFETCH,
    NO_STATE,
    NOTICE_REPEATED,
    NOTICE_UNKNOWN,
    RETRY_BOUNDED,
    RETRY_ONCE,
    SERVER_NAMED,
    STATE_ECHOED,
    UNDECLARED_MODE,
    URL_SHOWN,
    WAIT_BOUNDED,
)
from ._client_runner import Observed
from ._client_scenarios import CAPABILITIES_KEY, Link, Scenario, declared_modes
from ._client_server import Hub
from ._report import Report, Requirement

ERA_REQUIREMENTS: dict[str, tuple[Requirement, ...]] = {
    LEGACY: (
        DECLARES_URL, HONOURS_URL, UNDECLARED_MODE, SERVER_NAMED, URL_SHOWN, CONSENT, NO_PREFETCH, BLOCKED,
        LOOKALIKE, NOTICE_UNKNOWN, NOTICE_REPEATED, RETRY_ONCE, WAIT_BOUNDED, RETRY_BOUNDED,
    ),
    MODERN: (
        DECLARES_URL, SERVER_NAMED, URL_SHOWN, CONSENT, NO_PREFETCH, BLOCKED, LOOKALIKE, NEW_ID,
        INPUTS_BUILT, STATE_ECHOED, NO_STATE, RETRY_BOUNDED,
    ),
}  # fmt: skip

NO_PERSON = (
    "the checker did not answer this client's consent: give --accept-with and --decline-with for a "
    "client that asks at a prompt (a client that decides by a policy of its own cannot be watched)"
)


def score(report: Report, era: str, runs: Sequence[tuple[Scenario, Observed | None]], hub: Hub) -> None:
    """Add the results of `era`: first whether the client spoke it at all, then each requirement."""
    if not runs:
        return
    calls = sum(len(s.calls()) for s, _ in runs)
    if calls == 0:
        why = _silent(era, runs)
        for requirement in ERA_REQUIREMENTS[era]:
            report.skipped(requirement, why, era)
        return
    _declared(report, era, runs)
    for scenario, observed in runs:
        scenario.score(report, observed.gone_at if observed else None, bool(observed and observed.answers))
    links = [(link, scenario, observed) for scenario, observed in runs for link in scenario.links]
    _shown(report, era, links, hub)
    _consent(report, era, links, hub)
    _prefetch(report, era, links, hub, runs)
    _blocked(report, era, links, hub)
    _missing(report, era, runs)


def _silent(era: str, runs: Sequence[tuple[Scenario, Observed | None]]) -> str:
    seen = [m.message.get("method") for s, _ in runs for m in s.trace.seen]
    if era == MODERN and "server/discover" in seen and "initialize" in seen:
        return (
            "the client asked server/discover, then sent initialize anyway: it did not take the answer "
            "for a 2026-07-28 server's"
        )
    if era == MODERN and "initialize" in seen:
        return "the client does not speak 2026-07-28: it sent initialize, which a 2026-07-28 server refuses"
    if era == LEGACY and seen and "initialize" not in seen:
        return "the client does not speak 2025-11-25: it never sent initialize"
    if seen:
        return f"the client connected but never called the tool ({', '.join(sorted({str(m) for m in seen}))})"
    return "the client never reached this era's servers"


def _declared(report: Report, era: str, runs: Sequence[tuple[Scenario, Observed | None]]) -> None:
    if era == LEGACY:
        declared = [
            declared_modes(session.capabilities.get("elicitation"))
            for scenario, _ in runs
            for session in scenario.trace.sessions.values()
        ]
        where = "at initialize"
    else:
        declared = []
        for scenario, _ in runs:
            for call in scenario.calls():
                meta = (call.message.get("params") or {}).get("_meta") or {}
                capabilities = meta.get(CAPABILITIES_KEY) if isinstance(meta, dict) else None
                elicitation = capabilities.get("elicitation") if isinstance(capabilities, dict) else None
                declared.append(declared_modes(elicitation))
        where = "in the _meta of each tool call"
    lacking = [modes for modes in declared if "url" not in modes]
    if not declared:
        report.skipped(DECLARES_URL, "no request carried the client's capabilities", era)
    elif lacking:
        said = ", ".join(sorted(lacking[0])) or "no elicitation"
        report.failed(
            DECLARES_URL,
            f"declared {said} {where}; without url mode no other check can run against it",
            era,
        )
    else:
        modes = sorted(set().union(*declared))
        report.passed(DECLARES_URL, f"declared {' and '.join(modes)} {where}", era)


Decided = tuple[Link, Scenario, Observed | None]


def _decided_at(link: Link, observed: Observed | None, hub: Hub) -> float | None:
    """When the link was answered: the person's answer, else the first time it was opened."""
    answer = observed.answer_to(link) if observed else None
    if answer is not None:
        return answer.at
    opened = hub.opened(link.url)
    return opened[0].at if opened else None


def _shown(report: Report, era: str, links: list[Decided], hub: Hub) -> None:
    pages = [(link, s, o) for link, s, o in links if link.kind == "page" and o is not None]
    if not any(o is not None for _, _, o in links):
        why = "the client ran outside the checker (--serve), which cannot see its screen; check by hand"
        report.skipped(SERVER_NAMED, why, era)
        report.skipped(URL_SHOWN, why, era)
        return
    decided = [(link, s, o, at) for link, s, o in pages if (at := _decided_at(link, o, hub)) is not None]
    if not decided:
        report.skipped(SERVER_NAMED, "no link was answered or opened", era)
        report.skipped(URL_SHOWN, "no link was answered or opened", era)
        return
    person = any(o.answers for _, _, o, _ in decided if o is not None)
    unnamed = [
        link
        for link, s, o, at in decided
        if o is not None and not any(name in o.text_before(at) for name in _names(s, hub))
    ]
    if unnamed:
        report.failed(
            SERVER_NAMED,
            f"nothing on the client's output named the server before {_short(unnamed[0].url)} was answered",
            era,
        )
    else:
        report.passed(
            SERVER_NAMED,
            f"the server's name or address was shown before each of {len(decided)} links was answered",
            era,
        )
    hidden = [link for link, _, o, at in decided if o is not None and link.url not in o.text_before(at)]
    if not hidden:
        how = (
            "before the person answered"
            if person
            else "before it was opened (the client consents by its own policy)"
        )
        report.passed(URL_SHOWN, f"each of {len(decided)} full URLs was printed {how}", era)
    elif person:
        report.failed(
            URL_SHOWN, f"the person answered without the full URL on the screen: {_short(hidden[0].url)}", era
        )
    else:
        report.skipped(
            URL_SHOWN,
            f"the full URL ({_short(hidden[0].url)}) never appeared on the client's output before it "
            "was opened; "
            "a client that shows links in a window of its own must be checked by hand",
            era,
        )


def _names(scenario: Scenario, hub: Hub) -> tuple[str, ...]:
    return (f"handoff-check-{scenario.name}", hub.url(scenario), hub.origin.removeprefix("http://"))


def _consent(report: Report, era: str, links: list[Decided], hub: Hub) -> None:
    runs = [o for _, _, o in links if o is not None]
    if not runs or not any(s.setting.person for _, s, _ in links):
        report.skipped(CONSENT, NO_PERSON if runs else "the client ran outside the checker (--serve)", era)
        return
    problems: list[str] = []
    asked = 0
    for link, _, observed in links:
        if observed is None:
            continue
        answer = observed.answer_to(link)
        opened = hub.opened(link.url)
        if answer is not None:
            asked += 1
        if not opened:
            continue
        if answer is None:
            problems.append(f"opened {_short(link.url)}, which the person was never asked about")
        elif answer.said == "decline":
            problems.append(f"opened {_short(link.url)} after the person declined it")
        elif opened[0].at < answer.at:
            problems.append(f"opened {_short(link.url)} before the person answered")
    if problems:
        report.failed(
            CONSENT, problems[0] + (f" (and {len(problems) - 1} more)" if len(problems) > 1 else ""), era
        )
    else:
        report.passed(
            CONSENT,
            f"the person answered {asked} prompts; nothing opened before an accept, nor after a decline",
            era,
        )


def _prefetch(
    report: Report, era: str, links: list[Decided], hub: Hub, runs: Sequence[tuple[Scenario, Observed | None]]
) -> None:
    if not any(o is not None for _, o in runs):
        report.skipped(NO_PREFETCH, "in --serve mode a GET of a page is the person's browser opening it", era)
        return
    fetched = [link for link, _, _ in links if any(o.via == "page" for o in hub.opened(link.url))]
    if fetched:
        report.failed(
            NO_PREFETCH,
            f"the page {_short(fetched[0].url)} was fetched, and the browser stand-in fetches nothing",
            era,
        )
    else:
        pages = sum(1 for link, _, _ in links if link.kind == "page")
        report.passed(NO_PREFETCH, f"none of the checker's {pages} pages was fetched", era)


def _blocked(report: Report, era: str, links: list[Decided], hub: Hub) -> None:
    for requirement, kind in ((BLOCKED, "blocked"), (LOOKALIKE, "lookalike")):
        chosen = [(link, o) for link, _, o in links if link.kind == kind]
        if not chosen:
            if any(s.name == "blocked" for _, s, _ in links):
                report.skipped(requirement, "handoff's link check gave no such example", era)
            continue
        opened = [link for link, _ in chosen if hub.opened(link.url)]
        if not any(o.via == "stand-in" for o in hub.opens) and all(o is None for _, o in chosen):
            report.skipped(
                requirement,
                "no link reached the browser stand-in: set BROWSER as shown, to see what opens",
                era,
            )
            continue
        asked = sum(1 for link, o in chosen if o is not None and o.answer_to(link))
        if asked:
            how = f"the person was asked about {asked} and declined"
        elif any(s.setting.person for _, s, _ in links):
            how = "the client declined them without asking the person"
        else:
            how = "each one was offered to the client's own consent"
        if opened:
            report.failed(
                requirement,
                f"opened {_short(opened[0].url)}"
                + (f" and {len(opened) - 1} more" if len(opened) > 1 else ""),
                era,
            )
        else:
            report.passed(requirement, f"none of {len(chosen)} opened ({how})", era)


def _missing(report: Report, era: str, runs: Sequence[tuple[Scenario, Observed | None]]) -> None:
    """A requirement no scenario could judge (its scenario was not run, or not called): say so."""
    judged = {r.requirement.id for r in report.results if r.era == era}
    names = ", ".join(s.name for s, _ in runs if not s.calls())
    for requirement in ERA_REQUIREMENTS[era]:
        if requirement.id not in judged:
            why = (
                f"its scenario did not run or was not called ({names})"
                if names
                else "its scenario was not run"
            )
            if requirement is CONSENT:
                why = NO_PERSON
            report.skipped(requirement, why, era)


def _short(url: str, limit: int = 80) -> str:
    return url if len(url) <= limit else url[: limit - 1] + "…"
