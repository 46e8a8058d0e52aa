"""The URL analyzer, table-driven: hostile URLs are caught for the right reason, benign ones pass."""

from __future__ import annotations

import json

import pytest
from click.testing import CliRunner
from hypothesis import given, settings
from hypothesis import strategies as st

from handoff.cli import main
from handoff.client import check_url

HOSTILE: list[tuple[str, str, str]] = [
    # (url, verdict, a reason code that must be among the reasons)
    ("https://xn--pple-43d.com/", "warn", "mixed-script"),
    ("https://xn--paypl-g9d.com/", "warn", "mixed-script"),
    ("https://аррӏе.com/", "warn", "confusable"),  # whole-script Cyrillic
    ("https://ѕсоре.com/", "warn", "confusable"),
    ("https://раураl.com/login", "warn", "mixed-script"),
    ("https://gооgle.com/", "warn", "mixed-script"),
    ("https://www.xn--80ak6aa92e.com/", "warn", "confusable"),  # аррӏе in punycode
    ("https://paypal.com.xn--80ak6aa92e.com/", "warn", "confusable"),
    ("https://xn--80ak6aa92e.com/", "warn", "lookalike-domain"),  # looks like apple.com
    ("https://gıthub.com/", "warn", "lookalike-domain"),  # dotless i
    ("https://googlé.com/", "warn", "lookalike-domain"),
    ("https://accounts.gооgle.com/", "warn", "lookalike-domain"),
    ("https://αρριε.com/", "warn", "confusable"),  # whole-script Greek
    ("https://1շ.com/", "warn", "digit-lookalike"),
    ("https://б4.com/", "warn", "digit-lookalike"),  # the Cyrillic be passes for 6
    ("https://ພ໐ບ.com/", "warn", "confusable"),  # Lao letters that read as 'wou'
    ("https://丫ahoo.com/", "warn", "cjk-lookalike"),  # a Han character that passes for y
    ("https://pi\u0307xel.com/", "warn", "combining-mark"),
    ("https://aþcdef.com/", "warn", "tld-letter"),
    ("https://əxample.com/", "warn", "tld-letter"),
    ("https://l·l.com/", "warn", "middle-dot"),
    ("https://abc\u2010def.com/", "warn", "unusual-character"),  # a hyphen that is not '-'
    ("https://🍕💩.xyz/", "warn", "unusual-character"),
    ("https://ip一address.com/", "warn", "cjk-lookalike"),
    ("https://google\u3099.com/", "warn", "kana-mark"),
    ("https://xn--example-.com/", "block", "invalid-idn"),
    ("https://login.xn--bc-9x80a.xyz/", "block", "invalid-idn"),
    ("https://user:pw@192.168.0.1/", "warn", "userinfo"),
    ("https://user:pw@192.168.0.1/", "warn", "ip-host"),
    ("https://trusted.com@evil.com/", "warn", "userinfo"),
    ("https://trusted.com:443@evil.com/", "warn", "userinfo"),
    ("https://0x7f.1/", "warn", "ip-spelling"),
    ("https://2130706433/", "warn", "ip-spelling"),
    ("https://0177.0.0.1/", "warn", "ip-spelling"),
    ("https://127.1/", "warn", "ip-spelling"),
    ("https://0x7f000001/", "warn", "ip-spelling"),
    ("https://10.0.0.1/", "warn", "ip-host"),
    ("https://[::1]/", "warn", "ip-host"),
    ("https://[::ffff:127.0.0.1]/", "warn", "ipv4-mapped"),
    ("https://[0:0:0:0:0:ffff:7f00:1]/", "warn", "ipv4-mapped"),
    ("https://example.com%2eevil.com/", "warn", "encoded-host"),
    ("https://ex%61mple.com/", "warn", "encoded-host"),
    ("https://example.com./", "warn", "trailing-dot"),
    ("https://example.com:8443/", "warn", "port"),
    ("https://exa\u200bmple.com/", "warn", "invisible"),
    ("https://example.com/\u200d", "warn", "invisible"),
    ("https://exam\u00adple.com/", "warn", "invisible"),
    ("https://example.com/\u202egpj.exe", "warn", "bidi"),
    ("https://\u2067example.com/", "block", "bidi"),  # a browser refuses it; still named
    ("https://ｅｘａｍｐｌｅ.com/", "warn", "fullwidth"),
    ("https://example．com/", "warn", "dot-lookalike"),
    (" https://example.com/\n", "warn", "whitespace"),
    ("https://exam\tple.com/", "warn", "whitespace"),
    ("javascript:alert(1)", "block", "scheme"),
    ("JaVaScRiPt:alert(document.domain)", "block", "scheme"),
    ("data:text/html,<script>alert(1)</script>", "block", "scheme"),
    ("file:///etc/passwd", "block", "scheme"),
    ("ftp://example.com/", "block", "scheme"),
    ("vbscript:msgbox", "block", "scheme"),
    ("http://example.com/", "block", "insecure"),
    ("http://192.168.1.1/", "block", "insecure"),
    ("https://", "block", "unparseable"),
    ("not a url", "block", "unparseable"),
    ("https://exa mple.com/", "block", "unparseable"),
    ("//example.com/", "block", "unparseable"),
    ("", "block", "unparseable"),
]

BENIGN: list[tuple[str, str, str]] = [
    # (url, host as the browser resolves it, registrable domain)
    ("https://example.com/", "example.com", "example.com"),
    ("https://www.example.co.uk/path?q=1#f", "www.example.co.uk", "example.co.uk"),
    ("https://bücher.de/", "xn--bcher-kva.de", "xn--bcher-kva.de"),
    ("https://münchen.de/rathaus", "xn--mnchen-3ya.de", "xn--mnchen-3ya.de"),
    ("https://例え.jp/", "xn--r8jz45g.jp", "xn--r8jz45g.jp"),
    ("https://пример.рф/", "xn--e1afmkfd.xn--p1ai", "xn--e1afmkfd.xn--p1ai"),
    ("https://faß.de/", "xn--fa-hia.de", "xn--fa-hia.de"),
    ("https://ουτοπία.gr/", "xn--kxae4bafwg.gr", "xn--kxae4bafwg.gr"),
    ("https://þorgeir.is/", "xn--orgeir-hza.is", "xn--orgeir-hza.is"),
    ("https://l·l.cat/", "xn--ll-0ea.cat", "xn--ll-0ea.cat"),
    ("https://例子.测试/", "xn--fsqu00a.xn--0zwm56d", "xn--fsqu00a.xn--0zwm56d"),
    ("https://éxample.blogspot.com/", "xn--xample-9ua.blogspot.com", "xn--xample-9ua.blogspot.com"),
    ("https://mcp.github.com/handoff/e/abc", "mcp.github.com", "github.com"),
    ("https://foo.github.io/", "foo.github.io", "foo.github.io"),
    ("https://EXAMPLE.com:443/", "example.com", "example.com"),
    ("https://login.microsoftonline.com/common/oauth2", "login.microsoftonline.com", "microsoftonline.com"),
    ("https://accounts.google.com/o/oauth2/v2/auth?x=1", "accounts.google.com", "google.com"),
    ("https://ລາວ.la/", "xn--q7ce6a.la", "xn--q7ce6a.la"),  # "Lao" in Lao
    ("https://ພຣບ.la/", "xn--f7chp.la", "xn--f7chp.la"),  # a Lao look-alike of Latin, under Laos' own domain
    ("https://丁丁.cn/", "xn--5gqa.cn", "xn--5gqa.cn"),  # look-alike Han characters among Han ones
    ("https://москва.com/", "xn--80adxhks.com", "xn--80adxhks.com"),
    ("https://medium.com/@handoff", "medium.com", "medium.com"),
    ("https://example.com/?email=ann@example.org#@top", "example.com", "example.com"),
    ("https://example.com/a\\b", "example.com", "example.com"),  # a backslash in the path is no host
]

READ_AS_ANOTHER_SITE: list[tuple[str, str, str]] = [
    # (url, the host a browser opens, the finding): the text names one site, the browser opens another
    ("https://evil.com\\@good.com/", "evil.com", "misleading-at"),
    ("https://evil.com#@good.com", "evil.com", "misleading-at"),
    ("https://evil.com?@good.com", "evil.com", "misleading-at"),
    ("https://evil.com?next=ann@good.com/", "evil.com", "misleading-at"),
    ("https:\\\\evil.com\\handoff", "evil.com", "odd-slashes"),
    ("https:/\\evil.com/", "evil.com", "odd-slashes"),
    ("https:evil.com/x", "evil.com", "odd-slashes"),
    ("https:///evil.com/", "evil.com", "odd-slashes"),
    ("https://\\evil.com/", "evil.com", "odd-slashes"),
    ("https://evil.com\\handoff", "evil.com", "odd-slashes"),
    ("https://good.com\u3002evil.com/", "good.com.evil.com", "dot-lookalike"),
    ("https://good.com\uff0eevil.com/", "good.com.evil.com", "dot-lookalike"),
    ("https://good.com\uff61evil.com/", "good.com.evil.com", "dot-lookalike"),
]


@pytest.mark.parametrize(("url", "verdict", "code"), HOSTILE)
def test_hostile_urls_are_caught_for_the_right_reason(url: str, verdict: str, code: str) -> None:
    report = check_url(url)
    assert report.verdict == verdict, report
    assert code in {r.code for r in report.reasons}, report.reasons
    assert all(r.text for r in report.reasons)


@pytest.mark.parametrize(("url", "host", "registrable"), BENIGN)
def test_benign_urls_pass_with_their_registrable_domain(url: str, host: str, registrable: str) -> None:
    report = check_url(url)
    assert report.verdict == "ok", report.reasons
    assert (report.host, report.registrable_domain) == (host, registrable)


@pytest.mark.parametrize(("url", "host", "code"), READ_AS_ANOTHER_SITE)
def test_links_that_read_as_another_site_are_warned_and_name_the_real_one(url: str, host: str, code: str):
    report = check_url(url)
    assert (report.verdict, report.host) == ("warn", host), report
    (reason,) = [r for r in report.reasons if r.code == code]
    assert f"goes to {host}" in reason.text or f"opens {host}" in reason.text, reason.text


def test_every_full_stop_a_browser_reads_as_a_dot_is_one_finding():
    found = [check_url(f"https://good.com{dot}evil.com/").reasons for dot in "\u3002\uff0e\uff61"]
    assert [[r.code for r in reasons] for reasons in found] == [["dot-lookalike"]] * 3
    assert [r.text.split("'")[1] for (r,) in found] == ["\u3002", "\uff0e", "\uff61"]  # names each


def test_the_text_a_link_pretends_to_name_is_quoted_without_its_control_characters():
    report = check_url("https://evil.com#@good.com\x1b]0;handoff: all checks passed\x07" + "x" * 100)
    (reason,) = [r for r in report.reasons if r.code == "misleading-at"]
    assert "'good.com\\u001b]0;handoff" in reason.text
    assert "\x1b" not in reason.text and "\x07" not in reason.text
    assert len(reason.text) < 160


def test_registrable_domain_exposes_lookalike_prefixes() -> None:
    report = check_url("https://login.example.co.uk.evil.com/")
    assert report.registrable_domain == "evil.com"
    assert check_url("https://example.com%2eevil.com/").registrable_domain == "evil.com"
    assert check_url("https://trusted.com@evil.com/").registrable_domain == "evil.com"


def test_hosts_read_as_a_browser_reads_them() -> None:
    assert check_url("https://0x7f.1/").host == "127.0.0.1"
    assert check_url("https://2130706433/").host == "127.0.0.1"
    assert check_url("https://xn--pple-43d.com/").host_unicode == "аpple.com"
    assert check_url("https://xn--example-.com/").host_unicode == "xn--example-.com"  # never shown decoded
    assert check_url("https://a.xn--80ak6aa92e.com./").host_unicode == "a.аррӏе.com."


def test_plain_http_only_for_loopback_and_configurable() -> None:
    assert check_url("http://127.0.0.1:8377/handoff/e/x").verdict == "warn"  # allowed, with notes
    assert check_url("http://localhost/").verdict == "ok"
    assert check_url("http://localhost/", allow_http_loopback=False).verdict == "block"
    assert check_url("http://[::1]/").verdict == "warn"


@settings(max_examples=400, deadline=None)
@given(st.text(max_size=120))
def test_never_raises_on_any_text(text: str) -> None:
    report = check_url(text)
    assert report.verdict in ("ok", "warn", "block")


@settings(max_examples=300, deadline=None)
@given(
    scheme=st.text(alphabet=st.characters(min_codepoint=33, max_codepoint=0x2FF), min_size=1, max_size=10),
    rest=st.text(max_size=60),
)
def test_never_ok_for_other_schemes(scheme: str, rest: str) -> None:
    url = f"{scheme}:{rest}"
    report = check_url(url)
    if report.verdict == "ok":
        assert report.scheme in ("https", "http")


def test_check_url_command_json_and_exit_codes() -> None:
    runner = CliRunner()
    ok = runner.invoke(main, ["check-url", "--format", "json", "https://login.example.co.uk.evil.com/"])
    data = json.loads(ok.output)
    assert ok.exit_code == 0 and data["verdict"] == "ok" and data["registrable_domain"] == "evil.com"
    assert {"verdict", "reasons", "host", "registrable_domain"} <= set(data)
    warn = runner.invoke(main, ["check-url", "https://xn--pple-43d.com/"])
    assert warn.exit_code == 1 and "WARNING" in warn.output and "аpple.com" in warn.output
    block = runner.invoke(main, ["check-url", "--format", "json", "javascript:alert(1)"])
    assert block.exit_code == 2 and json.loads(block.output)["verdict"] == "block"
