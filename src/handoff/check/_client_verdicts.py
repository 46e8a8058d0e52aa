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
from ._client_scenarios import CAPABILITIES_KEY, Link, Played, Scenario, declared_modes
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
        scenario.score(report, _played(observed))
    links = [(link, scenario, observed) for scenario, observed in runs for link in scenario.links]
    served = all(observed is None for _, observed in runs)
    _shown(report, era, links, hub, served)
    _consent(report, era, links, hub, served)
    _prefetch(report, era, links, hub, served)
    _blocked(report, era, links, hub, served)
    _missing(report, era, runs)


def _played(observed: Observed | None) -> Played | None:
    if observed is None:
        return None
    return Played(observed.gone_at, bool(observed.answers), tuple(observed.dones))


def _silent(era: str, runs: Sequence[tuple[Scenario, Observed | None]]) -> str:
    seen = [m.message.get("method") for s, _ in runs for m in s.trace.seen]
    if era == MODERN and "server/discover" in seen and "initialize" in seen:
        return (
            "the client asked server/discover, then sent initialize: it did not take the answer for a "
            "2026-07-28 server"
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


def _shown(report: Report, era: str, links: list[Decided], hub: Hub, served: bool) -> None:
    if served:
        why = "the client ran outside the checker (--serve), which cannot see its screen; check by hand"
        report.skipped(SERVER_NAMED, why, era)
        report.skipped(URL_SHOWN, why, era)
        return
    pages = [(link, s, o) for link, s, o in links if link.kind == "page" and o is not None]
    decided = [(link, s, o, at) for link, s, o in pages if (at := _decided_at(link, o, hub)) is not None]
    if not decided:
        why = (
            f"none of the {len(pages)} links of the checker's pages was answered or opened"
            if pages
            else "no scenario that ran sent a link of the checker's pages"
        )
        report.skipped(SERVER_NAMED, why, era)
        report.skipped(URL_SHOWN, why, era)
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


def _consent(report: Report, era: str, links: list[Decided], hub: Hub, served: bool) -> None:
    """Nothing opens unasked. With the checker at the prompt: only after the person's accept. Without
    it, a policy of the client's own may have consented, but not to a link it never showed: that is
    opened unasked all the same."""
    if served:
        report.skipped(
            CONSENT, "the client ran outside the checker (--serve), which cannot see its prompt", era
        )
        return
    person = any(s.setting.person for _, s, _ in links)
    problems: list[str] = []
    accepted = declined = opened_count = 0
    for link, _, observed in links:
        if observed is None:
            continue
        answer = observed.answer_to(link)
        opened = hub.opened(link.url)
        if answer is not None:
            accepted += answer.said == "accept"
            declined += answer.said == "decline"
        if not opened:
            continue
        opened_count += 1
        if not person:
            if link.url not in observed.text_before(opened[0].at):
                problems.append(
                    f"opened {_short(link.url)} before anything on its output had shown it: no one can "
                    "have agreed to it"
                )
        elif answer is None:
            problems.append(f"opened {_short(link.url)}, which the person was never asked about")
        elif answer.said == "decline":
            problems.append(f"opened {_short(link.url)} after the person declined it")
        elif opened[0].at < answer.at:
            problems.append(f"opened {_short(link.url)} before the person answered")
    if problems:
        report.failed(
            CONSENT, problems[0] + (f" (and {len(problems) - 1} more)" if len(problems) > 1 else ""), era
        )
    elif not person:
        shown = (
            f"; it showed each of the {opened_count} links it opened before it opened it"
            if opened_count
            else ""
        )
        report.skipped(CONSENT, NO_PERSON + shown, era)
    elif not accepted + declined:
        report.skipped(CONSENT, "the client asked the person about no link, and opened none", era)
    else:
        report.passed(
            CONSENT,
            f"the person accepted {accepted} and declined {declined} links at the prompt; {opened_count} "
            "opened, each after an accept, none after a decline",
            era,
        )


def _prefetch(report: Report, era: str, links: list[Decided], hub: Hub, served: bool) -> None:
    if served:
        report.skipped(NO_PREFETCH, "in --serve mode a GET of a page is the person's browser opening it", era)
        return
    pages = [link for link, _, _ in links if link.kind == "page"]
    fetched = [link for link in pages if any(o.via == "page" for o in hub.opened(link.url))]
    if fetched:
        report.failed(
            NO_PREFETCH,
            f"the page {_short(fetched[0].url)} was fetched, and the browser stand-in fetches nothing",
            era,
        )
    elif not pages:
        report.skipped(NO_PREFETCH, "no scenario that ran sent a link of the checker's pages", era)
    else:
        report.passed(NO_PREFETCH, f"none of the {len(pages)} pages it was sent was fetched", era)


def _blocked(report: Report, era: str, links: list[Decided], hub: Hub, served: bool) -> None:
    """Links that must not open, and look-alikes: judged only where the client is seen to open the
    checker's own pages (else "nothing opened" tells nothing) and gave its answer to each."""
    pages_opened = any(hub.opened(link.url) for link, _, _ in links if link.kind == "page")
    for requirement, kind in ((BLOCKED, "blocked"), (LOOKALIKE, "lookalike")):
        chosen = [(link, s, o) for link, s, o in links if link.kind == kind]
        if not chosen:
            if any(s.name == "blocked" for _, s, _ in links):
                report.skipped(requirement, "handoff's link check gave no such example", era)
            continue
        opened = [(link, o) for link, _, o in chosen if hub.opened(link.url)]
        if opened:
            link, observed = opened[0]
            more = f" and {len(opened) - 1} more" if len(opened) > 1 else ""
            when = _when(link, observed, chosen[0][1].setting.person)
            report.failed(requirement, f"opened {_short(link.url)}{more}{when}", era)
        elif not pages_opened:
            why = (
                "no link reached the browser stand-in: set BROWSER as shown, to see what opens"
                if served
                else "the client opened none of the checker's own pages either, so that it opened none "
                "of these tells nothing (does it open links with $BROWSER?)"
            )
            report.skipped(requirement, why, era)
        elif unanswered := [
            link
            for link, s, o in chosen
            if link.answered_at is None and not (era == MODERN and o is not None and o.gone_at is not None)
        ]:
            limit = chosen[0][1].setting.limit
            report.skipped(
                requirement,
                f"the client gave no answer to {_short(unanswered[0].url)} within {limit:g} s, so whether "
                "it would open it is not known",
                era,
            )
        else:
            report.passed(requirement, f"none of {len(chosen)} opened{_how(chosen)}", era)


def _when(link: Link, observed: Observed | None, person: bool) -> str:
    answer = observed.answer_to(link) if observed else None
    if observed is None or not person:
        return ""
    if answer is None:
        return ", without asking the person"
    return f", after the person {'accepted' if answer.said == 'accept' else 'declined'} it"


def _how(chosen: list[Decided]) -> str:
    """Who decided that nothing opened: the person, the client without asking, or its own policy."""
    if not any(s.setting.person for _, s, _ in chosen):
        return " (the client decides by a policy of its own, by which it opened the checker's pages)"
    answers = [o.answer_to(link) if o else None for link, _, o in chosen]
    accepted = sum(1 for a in answers if a is not None and a.said == "accept")
    declined = sum(1 for a in answers if a is not None and a.said == "decline")
    unasked = len(chosen) - accepted - declined
    parts = []
    if accepted:
        parts.append(f"the person accepted {accepted} at the prompt")
    if declined:
        parts.append(f"the person saw and declined {declined}")
    if unasked:
        parts.append(f"the client refused {'the other ' if parts else ''}{unasked} without asking the person")
    return ": " + "; ".join(parts)


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
            report.skipped(requirement, why, era)


def _short(url: str, limit: int = 80) -> str:
    return url if len(url) <= limit else url[: limit - 1] + "…"
