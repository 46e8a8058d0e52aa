"""Values shown exactly: what a page renders decodes back to one string only."""

from __future__ import annotations

import html
import re

import regex
from hypothesis import given, settings
from hypothesis import strategies as st

from handoff._exact import printable, show


def rendered(value: str) -> str:
    """The text a browser shows for `value` (tags gone, entities decoded)."""
    return html.unescape(re.sub(r"<[^>]+>", "", str(show(value).html)))


def test_plain_text_in_any_script_is_shown_as_is_without_notes():
    for value in (
        "ACME Tools Ltd",
        "Müller & Söhne GmbH",
        "東京 Tokyo 株式会社",
        "Zoë 12.50",
        "שלום",
        "مرحبا",
    ):
        assert rendered(value) == value and show(value).notes == []


def test_markup_is_escaped():
    assert str(show("<b>x</b>").html) == "&lt;b&gt;x&lt;/b&gt;"


@settings(max_examples=3000, deadline=None)
@given(st.text(max_size=12), st.text(max_size=12))
def test_two_different_values_never_render_the_same(a: str, b: str):
    if a != b:
        assert rendered(a) != rendered(b)


@settings(max_examples=1500, deadline=None)
@given(st.text(alphabet=st.sampled_from("aA1 .\u202e\u202c\u200b\u0430\u00a0\u0301e⟦⟧U+"), max_size=16))
def test_nothing_that_hides_or_reorders_text_reaches_the_page(value: str):
    shown = rendered(value)
    assert not set(shown) & {"\u202e", "\u202c", "\u200b", "\u00a0"}
    if set(value) & {"\u202e", "\u202c", "\u200b", "\u00a0"}:
        assert show(value).notes


# The terminal: `printable`

_OBEYED = regex.compile(r"[\p{Cc}\p{Cf}\p{Co}\p{Cn}\p{Cs}\p{Zl}\p{Zp}\p{Default_Ignorable_Code_Point}]")
"""What a terminal could act on or hide: controls (ESC, CSI, BEL, CR), bidi and invisible characters."""


def test_a_terminal_gets_escape_sequences_named_not_obeyed():
    shown = printable("a\x1b]0;title\x07b\x9b2Kc\u202ed\re")
    assert shown == (
        "a⟦U+001B CONTROL⟧]0;title⟦U+0007 CONTROL⟧b⟦U+009B CONTROL⟧2Kc"
        "⟦U+202E RIGHT-TO-LEFT OVERRIDE⟧d⟦U+000D CONTROL⟧e"
    )


def test_a_terminal_keeps_lines_and_tabs_unless_one_line_is_asked():
    assert printable("a\n\tb") == "a\n\tb"
    assert printable("a\nb", lines=False) == "a⟦U+000A CONTROL⟧b"
    assert printable("a\u2028b") == "a⟦U+2028 LINE SEPARATOR⟧b"


def test_markup_and_text_in_any_script_reach_a_terminal_as_they_are():
    for value in ("[/x] [reverse green]ok[/]", "東京 Tokyo", "שלום", "Zoë 12.50"):
        assert printable(value) == value


def test_a_long_text_is_cut_before_its_characters_are_named():
    assert printable("\x1b" * 10, limit=2) == "⟦U+001B CONTROL⟧" * 2 + "…"
    assert printable("abc", limit=3) == "abc"


@settings(max_examples=2000, deadline=None)
@given(st.text(), st.booleans())
def test_nothing_a_terminal_could_obey_survives_printable(value: str, lines: bool):
    shown = printable(value, lines=lines)
    assert not _OBEYED.search(shown.replace("\n", "").replace("\t", "") if lines else shown)
    assert printable(shown, lines=lines) == shown  # naming twice changes nothing
