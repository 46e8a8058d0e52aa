"""Text shown exactly as it will be used: every character that could make it look like something else
is named on the page instead of rendered.

Tool arguments come from the model and so from whoever can steer it. A browser
renders bidi controls (U+202E turns the amount "1", U+202E, "00.0" into what
reads as 10.00), skips invisible characters, and draws Cyrillic U+0430 like
Latin "a". On a page where a person approves a payment, each of these must be
seen for what it is:

- invisible, format, bidi and control characters, unassigned and private-use
  code points, and spaces other than U+0020 are replaced by their name, like
  `⟦U+202E RIGHT-TO-LEFT OVERRIDE⟧`;
- letters of a second script mixed into a word of another (Cyrillic in Latin),
  styled and full-width forms (compatibility characters), and combining marks
  of a string that is not in composed form are named the same way;
- a value written wholly in a non-Latin script whose letters look like Latin
  ones is shown as is, with a warning.

A literal `⟦` or `⟧` is itself named, so what a page shows decodes back to one
string only: two different values never look the same.

A terminal is the other place handoff shows what others wrote (server names, tool texts and results,
links, a checked client's output): `printable` names the same hidden characters there, control
characters and escape sequences first, so nothing a server says can move the cursor, retitle the
window, set the clipboard or draw a link that goes elsewhere.
"""

from __future__ import annotations

import unicodedata
from collections import Counter
from dataclasses import dataclass, field

import regex
from confusable_homoglyphs import categories, confusables
from markupsafe import Markup, escape

_HIDDEN = regex.compile(
    r"[\p{Default_Ignorable_Code_Point}\p{Bidi_Control}\p{Cc}\p{Cf}\p{Co}\p{Cn}\p{Cs}\p{Zl}\p{Zp}]"
)
_BRACKETS = frozenset("⟦⟧")
_NEUTRAL = frozenset({"COMMON", "INHERITED"})
_CJK = frozenset({"HAN", "HIRAGANA", "KATAKANA", "HANGUL", "BOPOMOFO"})
"""Scripts written together (Japanese, Korean, Chinese with Latin): browsers allow these mixes too."""


@dataclass
class Shown:
    """One value as a page shows it: HTML with every suspicious character named, and why."""

    html: Markup
    notes: list[str] = field(default_factory=list)


def _script(c: str) -> str:
    alias = categories.alias(c)
    return "CJK" if alias in _CJK else alias


def _name(c: str) -> str:
    fallback = "CONTROL" if unicodedata.category(c) == "Cc" else "UNNAMED CHARACTER"
    return f"⟦U+{ord(c):04X} {unicodedata.name(c, fallback)}⟧"


def printable(text: object, *, limit: int | None = None, lines: bool = True) -> str:
    """`text` made safe to print on a terminal, whoever wrote it.

    Every control (C0, DEL, C1, so ESC and CSI: no escape sequence reaches the terminal), format,
    bidi, invisible, private-use and unassigned character, and every line or paragraph separator, is
    replaced by its name, `⟦U+001B CONTROL⟧`; a newline and a tab stay when `lines` (else they are
    named too, for text that must stay on one line). Longer than `limit`, it is cut with `…`. The
    result is plain text: print it as such (`click.echo`, or `rich.text.Text`), never as markup.
    """
    raw = str(text)
    cut = limit is not None and len(raw) > limit
    kept = "\n\t" if lines else ""
    shown = "".join(_name(c) if _HIDDEN.match(c) and c not in kept else c for c in raw[:limit])
    return shown + "…" if cut else shown


def show(text: str) -> Shown:
    """`text` for a page: safe HTML, each character that could deceive named, and notes for a person."""
    notes: list[str] = []
    letters = [_script(c) for c in text if c.isalpha()]
    scripts = Counter(s for s in letters if s not in _NEUTRAL)
    foreign: set[str] = set()
    if len(scripts) > 1:
        ranked = sorted(scripts.items(), key=lambda item: (-item[1], item[0] != "LATIN"))
        main = ranked[0][0]
        if not ({main} | set(scripts)) <= {"LATIN", "CJK"}:
            foreign = set(scripts) - {main}
            notes.append(
                f"mixes {main.title()} letters with {', '.join(sorted(s.title() for s in foreign))} "
                "letters that may look alike"
            )
    elif len(scripts) == 1 and (only := next(iter(scripts))) not in ("LATIN", "CJK"):
        if confusables.is_confusable(text, preferred_aliases=["latin"]):
            notes.append(f"is written in {only.title()} letters, some of which look like Latin letters")
    decomposed = unicodedata.normalize("NFC", text) != text
    parts: list[str] = []
    named = {"hidden": False, "styled": False, "combining": False, "brackets": False}
    for c in text:
        if c in _BRACKETS or _HIDDEN.match(c) or (unicodedata.category(c) == "Zs" and c != " "):
            named["brackets" if c in _BRACKETS else "hidden"] = True
        elif c.isalpha() and _script(c) in foreign:
            pass  # a look-alike from another script: named below
        elif unicodedata.normalize("NFKC", c) != c and (c.isalnum() or unicodedata.category(c) == "Zs"):
            named["styled"] = True
        elif decomposed and unicodedata.category(c) in ("Mn", "Me"):
            named["combining"] = True
        else:
            parts.append(str(escape(c)))
            continue
        parts.append(f'<span class="char">{escape(_name(c))}</span>')
    if named["hidden"]:
        notes.insert(0, "contains invisible, direction-changing or unusual space characters")
    if named["styled"]:
        notes.append("uses styled or full-width characters")
    if named["combining"]:
        notes.append("builds letters from separate accent marks")
    if named["brackets"]:
        notes.append("contains the ⟦ ⟧ brackets this page uses to name characters")
    return Shown(Markup("".join(parts)), notes)  # noqa: S704 - every part was escaped above


def exact(text: object) -> Markup:
    """The Jinja filter: `{{ value|exact }}` shows a value with every deceptive character named."""
    return show(str(text)).html
