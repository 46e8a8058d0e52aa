"""Generated hosts and URLs, 10,000 of them: check_url never raises, never calls a non-http(s) link "ok",
and never shows a punycode label it could not decode as anything but itself, blocked."""

from __future__ import annotations

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from handoff.client import check_url

RANGES = [
    (0x30, 0x39),  # digits
    (0x61, 0x7A),  # a-z
    (0x2D, 0x2D),  # hyphen-minus
    (0xC0, 0x24F),  # Latin-1 and Latin Extended
    (0x250, 0x2FF),  # IPA and modifier letters
    (0x300, 0x36F),  # combining marks
    (0x370, 0x52F),  # Greek, Cyrillic
    (0x530, 0x6FF),  # Armenian, Hebrew, Arabic
    (0x900, 0xDFF),  # Indic scripts
    (0xE00, 0xEFF),  # Thai, Lao
    (0x1000, 0x10FF),  # Myanmar, Georgian
    (0x1100, 0x11FF),  # Hangul Jamo
    (0x1400, 0x167F),  # Canadian Syllabics
    (0x2000, 0x206F),  # general punctuation, invisible characters
    (0x2DE0, 0x2E7F),  # Cyrillic Extended-A, supplemental punctuation
    (0x3000, 0x31FF),  # CJK symbols, Kana, Bopomofo
    (0x4E00, 0x4E60),  # CJK ideographs, the stroke-like ones among them
    (0xAC00, 0xAC40),  # Hangul syllables
    (0xFF00, 0xFF60),  # full-width forms
    (0x1D400, 0x1D4FF),  # mathematical letters
    (0x1F300, 0x1F64F),  # emoji
]
CHARACTERS = st.one_of(
    [st.characters(min_codepoint=lo, max_codepoint=hi, exclude_categories=["Cs"]) for lo, hi in RANGES]
)
LABEL = st.text(CHARACTERS, min_size=1, max_size=12)
TLD = st.sampled_from(
    ["com", "ru", "gr", "jp", "kr", "is", "az", "cat", "il", "th", "\u0440\u0444", "\ud55c\uad6d"]
)
PUNYCODE = st.text(st.sampled_from("abcdefghijklmnopqrstuvwxyz0123456789-"), min_size=1, max_size=20)
SCHEMES = st.one_of(
    st.sampled_from(["javascript", "data", "file", "ftp", "ws", "wss", "blob", "mailto", "HTTPS+x", "httpx"]),
    st.text(st.characters(min_codepoint=33, max_codepoint=0x2FF), min_size=1, max_size=8),
)
BUDGET = settings(deadline=None, suppress_health_check=[HealthCheck.too_slow], database=None)


def _checked(url: str) -> None:
    report = check_url(url)
    assert report.verdict in ("ok", "warn", "block")
    assert all(r.text and r.severity in ("warn", "block", "note") for r in report.reasons)
    if report.verdict == "ok":
        assert report.scheme in ("https", "http")


@settings(BUDGET, max_examples=5000)
@given(labels=st.lists(LABEL, min_size=1, max_size=3), tld=TLD, path=st.sampled_from(["/", "/login?x=1", ""]))
def test_generated_hosts_never_raise(labels: list[str], tld: str, path: str) -> None:
    _checked(f"https://{'.'.join([*labels, tld])}{path}")


@settings(BUDGET, max_examples=3000)
@given(labels=st.lists(PUNYCODE, min_size=1, max_size=3), plain=st.sampled_from(["", "www.", "a.b."]))
def test_punycode_that_does_not_decode_is_blocked_and_shown_as_it_is(labels: list[str], plain: str) -> None:
    url = f"https://{plain}{'.'.join('xn--' + label for label in labels)}.com/"
    _checked(url)
    report = check_url(url)
    if report.host is None or report.host_unicode is None:
        return
    for written, shown in zip(report.host.split("."), report.host_unicode.split("."), strict=True):
        if written.startswith("xn--") and shown == written:
            assert report.verdict == "block", (url, report.reasons)


@settings(BUDGET, max_examples=2000)
@given(
    scheme=SCHEMES,
    host=st.one_of(LABEL.map(lambda label: label + ".com"), PUNYCODE.map(lambda p: f"xn--{p}.com")),
    rest=st.text(max_size=20),
)
def test_other_schemes_are_never_ok(scheme: str, host: str, rest: str) -> None:
    url = f"{scheme}://{host}/{rest}"
    report = check_url(url)
    if report.verdict == "ok":
        assert report.scheme in ("https", "http"), url
