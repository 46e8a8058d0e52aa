"""Connecting a third-party account: PKCE S256, a single-use state bound to record and browser, an
exact callback path, the code exchanged with Authlib, tokens straight into the vault."""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING
from urllib.parse import urlsplit

import httpx
import httpx2
from authlib.common.security import generate_token
from authlib.integrations.httpx_client import OAuthError
from starlette.datastructures import FormData
from starlette.requests import Request
from starlette.responses import RedirectResponse, Response

from .._completion import Value
from .._entries import Entries
from .._errors import RecordNotFound, TransitionRefused
from .._i18n import gettext as _
from .._onetime import OneTimeStore
from .._web import Web, content_security_policy, message, remote_address, render
from ..audit import Event
from ..identity._login import PasswordLogin, SignInRefused, page_sign_in
from ..ledger import Record, Status
from ..oauth import TokenSet
from ..oauth._tokens import client
from ._flow import about, authored, conclude, ended

if TYPE_CHECKING:
    from .._handoff import Handoff

STATE_LIFE = 600.0


@dataclass(frozen=True)
class PendingConnect:
    """What an OAuth `state` stands for: this record, this person, this browser, this verifier."""

    record_id: str
    principal: str
    browser_id: str
    provider: str
    code_verifier: str


class OAuthStates(OneTimeStore[PendingConnect]):
    """OAuth `state` values in flight: each is taken once, and forgotten after about ten minutes."""

    def __init__(self, entries: Entries | None = None) -> None:
        super().__init__("connect.state", PendingConnect, STATE_LIFE, entries)


class ConnectFlow:
    async def show(self, handoff: Handoff, request: Request, record: Record, csrf: str) -> Response:
        provider = handoff.provider(record.params["name"])
        page = render(
            request,
            "connect.html",
            scopes=record.params.get("scopes", []),
            csrf=csrf,
            **await about(handoff, record),
        )
        # The Continue button's POST is answered with a redirect to the provider: let the form go there.
        page.headers["content-security-policy"] = content_security_policy((_origin(provider.authorize_url),))
        return page

    async def submit(
        self, handoff: Handoff, request: Request, record: Record, form: FormData, csrf: str
    ) -> Response:
        web = Web.of(request)
        if form.get("action") != "continue":
            label = authored(record.params["label"])
            text = _(
                "You chose not to connect %(label)s. Nothing was shared. You can close this tab.", label=label
            )
            return await conclude(handoff, request, record, Status.DECLINED, _("Declined"), text)
        provider = handoff.provider(record.params["name"])
        browser_id = web.browser_id(request)
        assert browser_id is not None  # the pages app gives every browser an id
        verifier = generate_token(64)
        state = await handoff.oauth_states.issue(
            PendingConnect(record.id, record.principal, browser_id, provider.name, verifier)
        )
        async with client(provider, handoff.oauth_callback_url()) as oauth:
            url, _state = oauth.create_authorization_url(
                provider.authorize_url,
                state=state,
                code_verifier=verifier,
                scope=provider.scope(tuple(record.params.get("scopes", ()))),
                **dict(provider.authorize_params),
            )
        return RedirectResponse(url, status_code=303)


async def callback(handoff: Handoff, request: Request) -> Response:
    """The provider sends the browser back here, and only here; nothing in the query can redirect.

    On plain http, where another local server may have planted its own user's cookie in this
    browser, a server with more than one user asks who is here before the code is used: the tokens
    go to the record's owner only if that person signs in, on this page."""
    web = Web.of(request)
    remote = remote_address(request)
    state = request.query_params.get("state", "")
    asking = page_sign_in(handoff.browser, web)
    asks = asking is not None and not asking.one_person and not request.query_params.get("error")
    purpose = f"sign-in:connect:{state}"
    signed: str | None = None
    if asking is not None and asks:
        if request.method == "GET":
            waiting = await handoff.oauth_states.peek(state) if state else None
            if waiting is not None and web.browser_id(request) == waiting.browser_id:
                return await _sign_in_form(asking, request, purpose)
        else:
            answer = await asking.authenticate(request, await request.form(), purpose)
            if isinstance(answer, SignInRefused):
                return await _sign_in_form(asking, request, purpose, answer)
            signed = answer
    elif request.method != "GET":
        state = ""  # only a sign-in is posted here
    pending = await handoff.oauth_states.take(state) if state else None
    if pending is None:
        await handoff.audit.write(
            Event.REJECTED, remote=remote, detail="oauth state unknown, used or expired"
        )
        return message(
            request,
            400,
            title=_("This sign-in cannot be used"),
            text=_("The link back from the provider is unknown, was already used, or expired."),
            next_step=_("Start again from your MCP client."),
        )
    if asking is None:
        user = await handoff.browser.current(request)
    else:  # plain http: whoever signed in here, else the one person there is (or a provider's refusal)
        user = signed if asks else pending.principal
    if web.browser_id(request) != pending.browser_id or user != pending.principal:
        await handoff.audit.write(
            Event.REJECTED,
            principal=user,
            record_id=pending.record_id,
            remote=remote,
            detail="oauth callback from another browser or user",
        )
        return message(
            request,
            403,
            title=_("Not your sign-in"),
            text=_("This sign-in was started in another browser or by another user. Nothing was connected."),
            next_step=_("Start again from your MCP client, in your own browser."),
            kind="refused",
        )
    try:
        record = await handoff.ledger.get(pending.record_id)
    except RecordNotFound:
        return message(
            request,
            404,
            title=_("Unknown request"),
            text=_("This server has no request for this sign-in any more."),
            next_step=_("Start again from your MCP client."),
            kind="unknown",
        )
    if not record.pending:
        return ended(request, record.status.value)
    provider = handoff.provider(pending.provider)
    label = authored(provider.label)
    error = request.query_params.get("error")
    if error:
        status = Status.DECLINED if error == "access_denied" else Status.FAILED
        await _finish_quietly(handoff, record, status, remote)
        said = (
            _("You did not allow access, so nothing was connected.")
            if status is Status.DECLINED
            else _("%(provider)s reported an error, so nothing was connected.", provider=label)
        )
        return message(
            request,
            400 if status is Status.FAILED else 200,
            title=_("Not connected"),
            text=said,
            next_step=_("Start again from your MCP client if you still want to connect."),
            kind="declined" if status is Status.DECLINED else "error",
        )
    try:
        async with client(provider, handoff.oauth_callback_url()) as oauth:
            answer = await oauth.fetch_token(
                provider.token_url,
                code=request.query_params.get("code", ""),
                code_verifier=pending.code_verifier,
                redirect_uri=handoff.oauth_callback_url(),
            )
        tokens = TokenSet.from_response(answer)
    except (OAuthError, OSError, ValueError, KeyError, httpx.HTTPError, httpx2.HTTPError) as exc:
        await _finish_quietly(
            handoff, record, Status.FAILED, remote, detail=f"code exchange failed: {type(exc).__name__}"
        )
        return message(
            request,
            502,
            title=_("Not connected"),
            text=_("%(provider)s did not accept the sign-in, so nothing was connected.", provider=label),
            next_step=_("Start again from your MCP client."),
        )

    name, kept = handoff.connections.entry(provider.name, tokens)
    try:
        await handoff.finish(
            record.id,
            Status.COMPLETED,
            remote=remote,
            value=Value(record.principal, name, kept),
            trace=record.trace,
        )
    except TransitionRefused as refused:
        return ended(request, refused.status)
    return render(
        request,
        "done.html",
        title=_("Connected"),
        text=_(
            "Your %(provider)s account is connected. The token stays on the server. "
            "You can close this tab and go back to your MCP client.",
            provider=label,
        ),
        declined=False,
    )


async def _sign_in_form(
    asking: PasswordLogin, request: Request, purpose: str, error: SignInRefused | None = None
) -> Response:
    """The sign-in that ends a third-party sign-in on plain http: it posts back to this very callback."""
    web = Web.of(request)
    action = f"{web.root}/oauth/callback?{request.url.query}"
    return await asking.sign_in_page(request, purpose=purpose, action=action, error=error)


async def _finish_quietly(
    handoff: Handoff, record: Record, status: Status, remote: str | None, detail: str | None = None
) -> None:
    try:
        await handoff.finish(record.id, status, remote=remote, trace=record.trace)
    except TransitionRefused:
        return
    if detail:
        await handoff.audit.write(
            Event.REJECTED, principal=record.principal, record_id=record.id, remote=remote, detail=detail
        )


def _origin(url: str) -> str:
    parts = urlsplit(url)
    return f"{parts.scheme}://{parts.netloc}"
