"""The client side of URL mode elicitation: check, consent, open, track, retry; and signing in.

elicitations = Elicitations(PolicyConsent("ok"), server="demo")
async with HandoffClient(url, elicitations=elicitations, auth=SignIn(FileTokens())) as client:
    result = await client.call_tool("forecast", {"city": "Oslo"})

`auth=SignIn(...)` signs in with OAuth in the browser when the server asks (`SignInFailed` when it
cannot); `FileTokens()` keeps the sign-in for the next run, `SignIn.sign_out(url)` revokes it. A
server that cannot be reached or stops answering raises `ServerUnreachable`, in one line too.
"""

from .._exact import printable
from ._consent import Consent, ConsentRequest, Decision, PolicyConsent
from ._elicitations import Considered, Elicitations, Mode, Outcome, Waiter
from ._failures import ServerUnreachable
from ._opener import Opener, print_only, system_browser
from ._retry import ElicitationFailed, retry_after_elicitation
from ._revocation import SignedOut
from ._session import HandoffClient
from ._signin import SignIn, SignInFailed
from ._tokens import FileTokens, MemoryTokens, SavedSignIn, TokenFileError, TokenStore, default_token_file
from ._urlcheck import Reason, UrlReport, Verdict, check_url

__all__ = [
    "Consent",
    "ConsentRequest",
    "Considered",
    "Decision",
    "ElicitationFailed",
    "Elicitations",
    "FileTokens",
    "HandoffClient",
    "MemoryTokens",
    "Mode",
    "Opener",
    "Outcome",
    "PolicyConsent",
    "Reason",
    "SavedSignIn",
    "ServerUnreachable",
    "SignIn",
    "SignInFailed",
    "SignedOut",
    "TokenFileError",
    "TokenStore",
    "UrlReport",
    "Verdict",
    "Waiter",
    "check_url",
    "default_token_file",
    "print_only",
    "printable",
    "retry_after_elicitation",
    "system_browser",
]
