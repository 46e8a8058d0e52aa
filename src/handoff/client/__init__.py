"""The client side of URL mode elicitation: check, consent, open, track, retry.

elicitations = Elicitations(PolicyConsent("ok"), server="demo")
async with HandoffClient(url, elicitations=elicitations) as client:
    result = await client.call_tool("forecast", {"city": "Oslo"})
"""

from ._consent import Consent, ConsentRequest, Decision, PolicyConsent, plain
from ._elicitations import Elicitations, Mode, Outcome, Waiter
from ._opener import Opener, print_only, system_browser
from ._retry import ElicitationFailed, retry_after_elicitation
from ._session import HandoffClient
from ._urlcheck import Reason, UrlReport, Verdict, check_url

__all__ = [
    "Consent",
    "ConsentRequest",
    "Decision",
    "ElicitationFailed",
    "Elicitations",
    "HandoffClient",
    "Mode",
    "Opener",
    "Outcome",
    "PolicyConsent",
    "Reason",
    "UrlReport",
    "Verdict",
    "Waiter",
    "check_url",
    "plain",
    "print_only",
    "retry_after_elicitation",
    "system_browser",
]
