"""Checks of a URL the server handed out and of the page behind it (the same in both eras)."""

from __future__ import annotations

import re

import httpx2

from ._report import Outcome, Report, Requirement
from ._server_browser import Finished, Page, PageFailed, SignInRefused
from ._server_requirements import (
    PAGE_ANONYMOUS,
    PAGE_FRAMING,
    PAGE_NO_STORE,
    PAGE_OTHER_USER,
    PAGE_REFERRER,
    PAGE_STAYS,
    URL_HTTPS,
    URL_NO_CREDENTIALS,
    URL_PARAMETER_NAMES,
    URL_VALID,
)
from ._server_target import Target
from ._server_url import credential_like_parameters, credentials_in, is_loopback, valid_absolute
from ._server_wire import Connection

_SAFE_REFERRERS = {"no-referrer", "same-origin", "strict-origin", "strict-origin-when-cross-origin"}


def check_url(report: Report, era: str, url: str, target: Target) -> bool:
    """The URL's own checks; False when it is not a URL a browser could open at all."""
    wrong = valid_absolute(url)
    if wrong is not None:
        report.failed(URL_VALID, f"the url is not a valid absolute URL: {wrong}", era)
        return False
    report.passed(URL_VALID, "an absolute http(s) URL with a host", era)
    if url.startswith("https://"):
        report.passed(URL_HTTPS, "https", era)
    elif is_loopback(url):
        report.passed(URL_HTTPS, "plain http on a loopback address (development)", era)
    else:
        report.failed(URL_HTTPS, "plain http to a host that is not loopback", era)
    found = credentials_in(url, target.known_secrets, target.people)
    if found:
        report.failed(URL_NO_CREDENTIALS, "the URL carries " + ", ".join(found), era)
    named = credential_like_parameters(url)
    if named:
        shown = ", ".join(repr(n) for n in named)
        report.failed(URL_PARAMETER_NAMES, f"query parameters named like a credential: {shown}", era)
    else:
        report.passed(URL_PARAMETER_NAMES, "no parameter is named like a credential", era)
    return True


_GRANTED_NOTHING = "granted nothing"


def judge_parameters(report: Report, era: str, url: str) -> None:
    """After the visits: whether the URL's credential-like parameters grant access (the MUST), judged
    by what the anonymous browser and the second user got; a URL with none of the MUST's findings
    and no such parameter passes at once."""
    if report.outcome(URL_NO_CREDENTIALS.id, era) is Outcome.FAIL:
        return
    named = credential_like_parameters(url)
    if not named:
        report.passed(
            URL_NO_CREDENTIALS, "no userinfo, no token, no user data, no parameter that grants access", era
        )
        return
    shown = ", ".join(repr(n) for n in named)
    visits = {r: report.outcome(r.id, era) for r in (PAGE_ANONYMOUS, PAGE_OTHER_USER)}
    let_in = [r for r, outcome in visits.items() if outcome is Outcome.FAIL]
    refused = [r for r, outcome in visits.items() if outcome is Outcome.PASS]
    if let_in:
        who = " and ".join(_VISITORS[r][1].rstrip(",") for r in let_in)
        report.failed(URL_NO_CREDENTIALS, f"the link (with {shown}) lets {who} in: it grants access", era)
    elif PAGE_ANONYMOUS in refused:
        who = " and ".join(_VISITORS[r][1].rstrip(",") for r in refused)
        report.passed(
            URL_NO_CREDENTIALS, f"{shown} {_GRANTED_NOTHING}: {who} opened the link and got no form", era
        )
    else:
        report.skipped(
            URL_NO_CREDENTIALS,
            f"whether {shown} grants access was not seen: no browser without the user's sign-in got to "
            "open the link",
            era,
        )


def _offered(page: Page) -> str | None:
    """What the page offers that it should not (a form beyond a sign-in), or None."""
    if page.left_to is not None:
        return None
    form = page.input_form
    if form is None or page.status >= 400:
        return None
    names = ", ".join(f.name for f in form.fields if f.typed) or ", ".join(
        b.value or b.label for b in form.buttons
    )
    return f"a form ({names}) at {page.url.split('?')[0]}"


def _where(page: Page) -> str:
    if page.elsewhere is not None:
        return f"{page.elsewhere} (not followed)"
    if page.left_to is not None:
        return f"it sent the browser off to {page.left_to.split('?')[0]}"
    if page.sign_in is not None:
        return f"it asked to sign in ({page.status})"
    return f"it answered {page.status} without a form"


async def _completed(initiator: Connection | None, elicitation_id: str | None, settle: float) -> bool:
    if initiator is None or elicitation_id is None:
        return False
    return await initiator.wait_for(lambda: elicitation_id in initiator.notices, settle)


async def check_anonymous(
    report: Report,
    era: str,
    url: str,
    target: Target,
    initiator: Connection | None,
    elicitation_id: str | None,
) -> None:
    """A browser with no cookies opens the URL: it must get a sign-in, not the form, and the step
    must not complete (2025-11-25: no completion notice follows the visit)."""
    browser = target.browser()
    target.doing("while opening the URL without signing in")
    try:
        page = await browser.open(url)
    except (httpx2.HTTPError, PageFailed) as exc:
        why = str(exc) if isinstance(exc, PageFailed) else type(exc).__name__
        for requirement in (PAGE_ANONYMOUS, PAGE_STAYS):
            report.skipped(requirement, f"the page could not be opened: {why}", era)
        return
    finally:
        await browser.aclose()
    await _judge_visit(report, era, PAGE_ANONYMOUS, page, target, initiator, elicitation_id)
    if page.elsewhere is not None:
        why = f"{page.elsewhere}, {target.leash.beyond} (the checker's browser did not follow)"
        report.failed(PAGE_STAYS, why, era)
    else:
        report.passed(PAGE_STAYS, f"the browser stayed within {target.leash.bounds}", era)


async def check_other_user(
    report: Report,
    era: str,
    url: str,
    target: Target,
    initiator: Connection | None,
    elicitation_id: str | None,
) -> None:
    """The second user's browser, signed in, opens the first user's URL: it must be refused."""
    second = target.second
    if second is None or second.name is None or second.password is None:
        report.skipped(PAGE_OTHER_USER, target.no_second_user, era)
        return
    browser = target.browser(second.name, second.password)
    target.doing("while the second user opened the URL")
    try:
        page = await browser.look(url)
    except SignInRefused as refused:
        report.skipped(PAGE_OTHER_USER, f"the second user could not sign in: {refused}", era)
        return
    except (httpx2.HTTPError, PageFailed) as exc:
        why = str(exc) if isinstance(exc, PageFailed) else type(exc).__name__
        report.skipped(PAGE_OTHER_USER, f"the page could not be opened: {why}", era)
        return
    finally:
        await browser.aclose()
    if page.sign_in is not None:
        report.skipped(PAGE_OTHER_USER, "the page still asks the second user to sign in", era)
        return
    await _judge_visit(report, era, PAGE_OTHER_USER, page, target, initiator, elicitation_id)


_VISITORS = {
    PAGE_ANONYMOUS: ("opening the URL without signing in", "a browser that never signed in"),
    PAGE_OTHER_USER: ("the second user's visit", "the second user, signed in,"),
}


async def _judge_visit(
    report: Report,
    era: str,
    requirement: Requirement,
    page: Page,
    target: Target,
    initiator: Connection | None,
    elicitation_id: str | None,
) -> None:
    """A visit that should have been refused: it fails if the step completed (2025-11-25: a notice
    followed it) or the page offered its form."""
    visit, visitor = _VISITORS[requirement]
    if await _completed(initiator, elicitation_id, target.settle):
        report.failed(requirement, f"{visit} completed the step", era)
        return
    offered = _offered(page)
    if offered:
        report.failed(requirement, f"{visitor} got {offered}", era)
    elif requirement is PAGE_ANONYMOUS:
        report.passed(requirement, f"no form without signing in: {_where(page)}", era)
    else:
        report.passed(requirement, f"the second user was refused ({page.status}, no form)", era)


COMPLETED_UNSEEN = (
    "the step was complete before anyone pressed anything on its page: opening the URL completed it "
    "(the visit of a browser that should have been refused, or a bare visit)"
)


def completed_by_a_visit(report: Report, era: str) -> None:
    """The step turned out complete though the signed-in user's page offered nothing to press: the
    visits that passed did not refuse after all (which one completed it cannot be told), nor can what
    was judged on them."""
    kept = []
    other_user_passed = parameters_judged = False
    for result in report.results:
        if result.era == era and result.outcome is Outcome.PASS and result.requirement in _VISITORS:
            other_user_passed = other_user_passed or result.requirement is PAGE_OTHER_USER
            continue
        if (
            result.era == era
            and result.requirement is URL_NO_CREDENTIALS
            and _GRANTED_NOTHING in result.reason
        ):
            parameters_judged = True
            continue
        kept.append(result)
    report.results = kept
    report.failed(PAGE_ANONYMOUS, COMPLETED_UNSEEN, era)
    if other_user_passed:
        report.skipped(PAGE_OTHER_USER, "the step was completed by a visit: which one cannot be told", era)
    if parameters_judged:
        report.skipped(
            URL_NO_CREDENTIALS,
            "a visit completed the step: whether the link's parameters let it cannot be told",
            era,
        )


def check_headers(report: Report, era: str, finished: Finished) -> None:
    """The page that showed the form: framing, referrer and caching headers."""
    page = finished.form_page
    if page is None:
        why = finished.reason if not finished.done else "no page with a form was seen"
        for requirement in (PAGE_FRAMING, PAGE_REFERRER, PAGE_NO_STORE):
            report.skipped(requirement, f"the form page was not reached: {why}", era)
        return
    headers = page.headers
    csp = headers.get("content-security-policy", "")
    ancestors = re.search(r"frame-ancestors\s+([^;]+)", csp)
    xfo = headers.get("x-frame-options", "").strip().upper()
    if ancestors and ancestors.group(1).strip() in ("'none'", "'self'"):
        report.passed(
            PAGE_FRAMING, f"Content-Security-Policy frame-ancestors {ancestors.group(1).strip()}", era
        )
    elif xfo in ("DENY", "SAMEORIGIN"):
        report.passed(PAGE_FRAMING, f"X-Frame-Options: {xfo}", era)
    else:
        report.failed(PAGE_FRAMING, "neither CSP frame-ancestors nor X-Frame-Options forbids framing", era)
    policy = headers.get("referrer-policy", "").split(",")[-1].strip().lower()
    if policy in _SAFE_REFERRERS:
        report.passed(PAGE_REFERRER, f"Referrer-Policy: {policy}", era)
    else:
        report.failed(PAGE_REFERRER, f"Referrer-Policy is {policy or 'missing'}", era)
    cache = headers.get("cache-control", "").lower()
    if "no-store" in cache:
        report.passed(PAGE_NO_STORE, f"Cache-Control: {cache}", era)
    else:
        report.failed(PAGE_NO_STORE, f"Cache-Control is {cache or 'missing'}", era)
