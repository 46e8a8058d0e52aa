"""What `handoff check server` tests: each requirement with its level and the spec section that asks it.

Sections are titles in the MCP specification (client/elicitation, basic/index and
basic/patterns/mrtr of the era named) or in its Security Best Practices page. Where the issue that
asked for a check goes beyond the spec, the requirement says so and is a SHOULD.
"""

from __future__ import annotations

from ._report import Level, Requirement

LEGACY = "2025-11-25"
MODERN = "2026-07-28"

# Both eras: the URL and the page behind it.

URL_VALID = Requirement(
    "url.valid",
    Level.MUST,
    "URL Mode Elicitation Requests",
    "The url parameter contains a valid, absolute URL",
)
URL_HTTPS = Requirement(
    "url.https",
    Level.SHOULD,
    "Safe URL Handling",
    "The URL uses https (plain http only on a loopback address, for development)",
)
URL_NO_CREDENTIALS = Requirement(
    "url.no-credentials",
    Level.MUST,
    "Safe URL Handling",
    "The URL carries no credentials or personal information and grants no access by itself: no "
    "userinfo, no token, not the user's access token, name or password, and no parameter that lets a "
    "browser that never signed in (or another user) in",
)
URL_PARAMETER_NAMES = Requirement(
    "url.no-credential-like-parameters",
    Level.SHOULD,
    "Safe URL Handling",
    "No query parameter is named like a credential (token, key, session, code...): a link that reads "
    "as one is logged, copied and pasted as if it were",
)
PAGE_ANONYMOUS = Requirement(
    "page.anonymous-refused",
    Level.MUST,
    "Safe URL Handling",
    "The URL is not pre-authenticated: a browser that has not signed in neither gets the page's form "
    "nor completes the step by opening it",
)
PAGE_STAYS = Requirement(
    "page.no-redirect-elsewhere",
    Level.SHOULD,
    "Safe URL Handling (beyond the spec's words: no open redirects)",
    "Opened without signing in, the page sends the browser nowhere but the URL's own origin and the "
    "server's authorization server",
)
PAGE_OTHER_USER = Requirement(
    "page.other-user-refused",
    Level.MUST,
    "Phishing",
    "A browser signed in as another user is refused: the user who completes the step is the user "
    "who started it",
)
PAGE_FRAMING = Requirement(
    "page.no-framing",
    Level.SHOULD,
    "Security Best Practices: Consent UI Requirements",
    "The page cannot be framed (CSP frame-ancestors, or X-Frame-Options DENY or SAMEORIGIN)",
)
PAGE_REFERRER = Requirement(
    "page.no-referrer",
    Level.SHOULD,
    "Safe URL Handling (beyond the spec's words: keeping the URL out of Referer headers)",
    "The page sends a Referrer-Policy that never sends its URL to other sites",
)
PAGE_NO_STORE = Requirement(
    "page.no-store",
    Level.SHOULD,
    "Safe URL Handling (beyond the spec's words: keeping the page out of caches)",
    "The page sends Cache-Control: no-store",
)

# 2025-11-25

LEGACY_UNDECLARED = Requirement(
    "legacy.no-url-when-undeclared",
    Level.MUST,
    "Capabilities",
    "A client that did not declare URL mode is sent no URL mode elicitation (no -32042, no "
    "elicitation/create in url mode)",
)
LEGACY_ERROR_SHAPE = Requirement(
    "legacy.32042-shape",
    Level.MUST,
    "URL Elicitation Required Error",
    "-32042 lists the required elicitations, each in url mode with an elicitationId, a url and a message",
)
LEGACY_CREATE_PARAMS = Requirement(
    "legacy.create-params",
    Level.MUST,
    "URL Mode Elicitation Requests",
    "elicitation/create in url mode carries mode, message, url and elicitationId",
)
LEGACY_NOTICE_ID = Requirement(
    "legacy.notice-id",
    Level.MUST,
    "Completion Notifications for URL Mode Elicitation",
    "A completion notice names the elicitationId established for the step (servers MAY send one)",
)
LEGACY_NOTICE_ONLY_INITIATOR = Requirement(
    "legacy.notice-only-initiator",
    Level.MUST,
    "Completion Notifications for URL Mode Elicitation",
    "The completion notice goes only to the client that initiated the elicitation",
)
LEGACY_NO_SELF_COMPLETION = Requirement(
    "legacy.no-self-completion",
    Level.MUST,
    "Phishing",
    "The step waits for the person: with nobody at its page, it does not complete by itself (no "
    "completion notice comes)",
)
LEGACY_RETRY = Requirement(
    "legacy.retry-succeeds",
    Level.MUST,
    "URL Elicitation Required Error",
    "Once the browser step is complete, the original request succeeds",
)

# 2026-07-28

MODERN_NO_32042 = Requirement(
    "modern.no-32042",
    Level.MUST,
    "Error Codes",
    "-32042 is not emitted (it is 2025-11-25 only)",
)
MODERN_NO_LEGACY_FIELDS = Requirement(
    "modern.no-elicitation-id-or-notice",
    Level.SHOULD,
    "Key Changes",
    "No elicitationId and no notifications/elicitation/complete (both removed in 2026-07-28)",
)
MODERN_RESULT_SHAPE = Requirement(
    "modern.input-required-shape",
    Level.MUST,
    "InputRequiredResult",
    'InputRequiredResult has resultType "input_required", inputRequests or requestState, and each '
    "input request is an elicitation/create in url mode with a message and a url",
)
MODERN_MISSING_CAPABILITY = Requirement(
    "modern.32021-without-url-mode",
    Level.MUST,
    "_meta",
    "A client that did not declare URL mode gets -32021 whose data.requiredCapabilities names the "
    "missing capability (HTTP 400), and no url-mode input request",
)
MODERN_STATE_TAMPERED = Requirement(
    "modern.state-tampered",
    Level.MUST,
    "Server Requirements (Basic Workflow)",
    "A requestState that fails verification (altered, cut short, lengthened) is rejected",
)
MODERN_STATE_OTHER_REQUEST = Requirement(
    "modern.state-other-request",
    Level.SHOULD,
    "Server Requirements (Basic Workflow)",
    "A requestState presented on a request with other arguments is rejected",
)
MODERN_STATE_OTHER_USER = Requirement(
    "modern.state-other-user",
    Level.SHOULD,
    "Server Requirements (Basic Workflow)",
    "A requestState presented by a different principal is rejected",
)
MODERN_STATE_REPLAYED = Requirement(
    "modern.state-replayed",
    Level.SHOULD,
    "Server Requirements (Basic Workflow)",
    "A requestState already answered is rejected when presented again (single use; a MUST where "
    "a state must be consumed at most once)",
)
MODERN_RETRY = Requirement(
    "modern.retry-succeeds",
    Level.MUST,
    "Basic Workflow",
    "Once the browser step is complete, the retry with the echoed requestState gets the final result",
)

SERVER_REQUIREMENTS = (
    URL_VALID,
    URL_HTTPS,
    URL_NO_CREDENTIALS,
    URL_PARAMETER_NAMES,
    PAGE_ANONYMOUS,
    PAGE_STAYS,
    PAGE_OTHER_USER,
    PAGE_FRAMING,
    PAGE_REFERRER,
    PAGE_NO_STORE,
    LEGACY_UNDECLARED,
    LEGACY_ERROR_SHAPE,
    LEGACY_CREATE_PARAMS,
    LEGACY_NO_SELF_COMPLETION,
    LEGACY_NOTICE_ID,
    LEGACY_NOTICE_ONLY_INITIATOR,
    LEGACY_RETRY,
    MODERN_NO_32042,
    MODERN_NO_LEGACY_FIELDS,
    MODERN_RESULT_SHAPE,
    MODERN_MISSING_CAPABILITY,
    MODERN_STATE_TAMPERED,
    MODERN_STATE_OTHER_REQUEST,
    MODERN_STATE_OTHER_USER,
    MODERN_STATE_REPLAYED,
    MODERN_RETRY,
)
"""Every requirement `handoff check server` reports on, in report order."""
