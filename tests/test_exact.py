"""Values shown exactly: what a page renders decodes back to one string only."""

from __future__ import annotations

import html
import re

from hypothesis import given, settings
from hypothesis import strategies as st

from handoff._exact import show


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
