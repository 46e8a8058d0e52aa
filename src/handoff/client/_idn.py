"""Internationalized host names, judged as a browser's address bar judges them before showing them.

Every punycode label is decoded with IDNA as browsers apply it (UTS 46 through ICU, with IDNA 2008's
bidi and joiner rules; its contextual rules for punctuation are left to the spoof checks, as browsers
leave them, so a Hebrew gershayim decodes): one that does not decode is never shown as a name, and the
link is blocked. A label that decodes is checked as Chromium checks it: ICU's spoof checker at the
highly restrictive level (Latin may mix only with Han and Kana, Han and Bopomofo, or Han and Hangul)
with the characters browsers allow, then the rules browsers add on top (digits and their look-alikes,
marks on dotless letters, Kana and CJK look-alikes beside other scripts, letters only some TLDs use,
whole-script look-alikes of Latin), and last the whole host against well-known domains. Which
characters pass for a Latin letter or a digit comes from the browser's own lists in `_browser_rules`
and from the skeletons of `_lookalike` (Unicode's confusable data and the browser's additions), so a
look-alike the lists leave out is still one: the Cyrillic `\u0431` among digits, Lao or Myanmar names
made only of letters that pass for Latin ones, a Han character that passes for a Latin letter beside
Latin ones. Greek and Cyrillic are the exception: browsers weigh their letters one by one, as so many
ordinary words in them read as Latin, and their lists are taken as they are (`_ONLY_LISTED_LETTERS`).
"""

from __future__ import annotations

import unicodedata
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from functools import lru_cache

import icu
import idna.idnadata

from . import _browser_rules as rules
from ._lookalike import skeletons, top_domains
from ._reason import Reason

_HIDDEN_OVERLAY = 256  # USPOOF_HIDDEN_OVERLAY (ICU 62+), not exported by PyICU
_ICU_CHECKS = int(icu.USpoofChecks.ALL_CHECKS)
_LEVEL_MASK = int(icu.URestrictionLevel.RESTRICTION_LEVEL_MASK)
_SINGLE_SCRIPT = int(icu.URestrictionLevel.SINGLE_SCRIPT_RESTRICTIVE)
_ASCII_LEVEL = int(icu.URestrictionLevel.ASCII)
_COMBINING_DIACRITICS = "[\u0300-\u0339]"
_DECODE_OPTIONS = (
    icu.IDNA.CHECK_BIDI
    | icu.IDNA.CHECK_CONTEXTJ
    | icu.IDNA.CHECK_NONTRANSITIONAL_TO_ASCII
    | icu.IDNA.CHECK_NONTRANSITIONAL_TO_UNICODE
)
_DECODE_ERRORS = (
    (icu.IDNAInfo.ERROR_PUNYCODE, "its punycode is broken"),
    (icu.IDNAInfo.ERROR_INVALID_ACE_LABEL, "its punycode does not stand for a valid name"),
    (icu.IDNAInfo.ERROR_DISALLOWED, "it holds characters a domain name may not contain"),
    (icu.IDNAInfo.ERROR_LEADING_COMBINING_MARK, "it starts with a combining mark"),
    (icu.IDNAInfo.ERROR_HYPHEN_3_4, "it has hyphens in the third and fourth places"),
    (icu.IDNAInfo.ERROR_LEADING_HYPHEN, "it starts with a hyphen"),
    (icu.IDNAInfo.ERROR_TRAILING_HYPHEN, "it ends with a hyphen"),
    (icu.IDNAInfo.ERROR_BIDI, "it breaks the rule for right-to-left names"),
    (icu.IDNAInfo.ERROR_CONTEXTJ, "it uses an invisible joiner where none is allowed"),
    (icu.IDNAInfo.ERROR_LABEL_TOO_LONG, "it is longer than a label may be"),
    (icu.IDNAInfo.ERROR_EMPTY_LABEL, "it is empty"),
)


@dataclass(frozen=True)
class HostReading:
    """A host as a person would read it, and what makes that reading unsafe."""

    shown: str
    """The host with each label that decodes in Unicode; a label that does not stays as it is."""
    findings: list[Reason] = field(default_factory=list)


def read_host(host: str) -> HostReading:
    """Decode and judge `host` (ASCII, lower case, as a WHATWG parser leaves it)."""
    labels = [label for label in host.rstrip(".").split(".") if label]
    if not any(label.startswith("xn--") for label in labels):
        return HostReading(host)
    spoof = _checker()
    shown: list[str] = []
    findings: list[Reason] = []
    for label in labels:
        decoded = _decode(label) if label.startswith("xn--") else label
        if decoded is None:
            findings.append(_invalid(label))
        shown.append(decoded or label)
    tld, tld_shown = labels[-1], shown[-1]
    for label, decoded in zip(labels, shown, strict=True):
        if label.startswith("xn--") and decoded != label:
            findings += spoof.judge(decoded, tld, tld_shown)
    host_shown = ".".join(shown) + ("." if host.endswith(".") else "")
    if not any(f.code == "invalid-idn" for f in findings):
        similar = top_domains().similar_to(".".join(shown))
        if similar is not None:
            findings.append(
                Reason(
                    "lookalike-domain",
                    "warn",
                    f"'{host_shown}' looks like {similar}, a well-known site, but it is a different name.",
                )
            )
    return HostReading(host_shown, findings)


def _decode(label: str) -> str | None:
    info = icu.IDNAInfo()
    decoded = str(_uts46().labelToUnicode(label, info))
    return None if info.errors() else decoded


def _invalid(label: str) -> Reason:
    info = icu.IDNAInfo()
    _uts46().labelToUnicode(label, info)
    errors = info.errors()
    culprits = ", ".join(_character(c) for c in _culprits(label)[:3])
    if culprits and errors & (icu.IDNAInfo.ERROR_INVALID_ACE_LABEL | icu.IDNAInfo.ERROR_DISALLOWED):
        why = f"it holds {culprits}, which a domain name may not hold as written"
    elif culprits and errors & icu.IDNAInfo.ERROR_CONTEXTJ:
        why = f"it has {culprits} where IDNA 2008 does not allow it"
    else:
        why = next((text for bit, text in _DECODE_ERRORS if errors & bit), "it does not decode")
    return Reason(
        "invalid-idn",
        "block",
        f"'{label}' is not a valid encoded name: {why}. A browser never shows it as a name.",
    )


def _culprits(label: str) -> list[str]:
    """The characters `label` encodes that no label may hold as they are (each named, never the name)."""
    try:
        raw = label[4:].encode("ascii").decode("punycode")
    except (UnicodeError, ValueError):
        return []
    found = []
    for c in dict.fromkeys(raw):
        info = icu.IDNAInfo()
        alone = str(_uts46().labelToUnicode(c, info))
        if info.errors() or alone != c:
            found.append(c)
    return found


@lru_cache(maxsize=1)
def _uts46() -> icu.IDNA:
    return icu.IDNA(_DECODE_OPTIONS)


@lru_cache(maxsize=1)
def _checker() -> SpoofRules:
    return SpoofRules()


class SpoofRules:
    """ICU's spoof checker set up as browsers set it up, and the browser's own rules after it."""

    def __init__(self) -> None:
        checker = icu.SpoofChecker()
        allowed = icu.UnicodeSet()  # a copy of ICU's frozen sets would stay frozen
        allowed.addAll(checker.getRecommendedUnicodeSet())
        allowed.addAll(checker.getInclusionUnicodeSet())
        allowed.removeAll(icu.UnicodeSet(rules.REFUSED_CHARACTERS))
        allowed.retainAll(_idna2008("PVALID", "CONTEXTO"))
        allowed.freeze()
        checker.setAllowedUnicodeSet(allowed)
        checker.setRestrictionLevel(icu.URestrictionLevel.HIGHLY_RESTRICTIVE)
        checker.setChecks(checker.getChecks() | icu.USpoofChecks.AUX_INFO)
        self._icu = checker
        self._allowed = allowed
        self._refused = _frozen(rules.REFUSED_CHARACTERS)
        self._idna2008_any = _idna2008("PVALID", "CONTEXTO", "CONTEXTJ")
        self._kana_exceptions = _frozen(rules.KANA_EXCEPTIONS)
        self._diacritics = _frozen(_COMBINING_DIACRITICS)
        self._non_ascii_latin = _frozen("[[:Latin:] - [a-zA-Z]]")
        self._lgc_and_ascii = _frozen("[[:Latin:][:Greek:][:Cyrillic:][0-9._\\-][\u0300-\u0339]]")
        self._listed_scripts = {w.script: w for w in rules.WHOLE_SCRIPT_LOOKALIKES}
        self._scx = {name: _frozen(f"[\\p{{scx={name}}}]") for name in _SCX}

    def judge(self, label: str, tld: str, tld_shown: str) -> list[Reason]:
        """Why a browser would not show `label` (decoded) in Unicode under `tld`; empty when it would."""
        result = int(self._icu.check(label))
        if result & _ICU_CHECKS:
            return self._explain_icu(label, result & _ICU_CHECKS)
        for rule in self._before_scripts():
            found = rule(label, tld)
            if found:
                return [found]
        level = result & _LEVEL_MASK
        if level == _ASCII_LEVEL:
            return []
        digits = self._digit_lookalikes(label)
        if (
            level == _SINGLE_SCRIPT
            and self._kana_exceptions.containsNone(label)
            and self._diacritics.containsNone(label)
        ):
            found = self._whole_script(label, tld, tld_shown)
            return [found] if found else [digits] if digits else []
        if digits:
            return [digits]
        found = self._accented_latin_mixed(label)
        if found:
            return [found]
        for pattern in self._patterns():
            found = pattern(label)
            if found:
                return [found]
        return []

    # ICU's verdict, in words

    def _explain_icu(self, label: str, failed: int) -> list[Reason]:
        found: list[Reason] = []
        if failed & icu.USpoofChecks.CHAR_LIMIT:
            odd = [c for c in dict.fromkeys(label) if not self._allowed.contains(c)]
            found += [self._odd_character(label, c) for c in odd[:3]]
        scripts = _scripts(label)
        if failed & icu.USpoofChecks.RESTRICTION_LEVEL and (len(scripts) > 1 or not found):
            found.append(_mixed_scripts(label, scripts))
        if failed & icu.USpoofChecks.MIXED_NUMBERS:
            systems = {_script_name(c, "ASCII"): c for c in label if unicodedata.category(c) == "Nd"}
            listed = ", ".join(f"{name} '{digit}'" for name, digit in systems.items())
            found.append(
                Reason(
                    "mixed-digits",
                    "warn",
                    f"'{label}' mixes digits of different number systems ({listed}), so it can pass "
                    "for another number.",
                )
            )
        if failed & icu.USpoofChecks.INVISIBLE:
            mark = _repeated_mark(label)
            found.append(
                Reason(
                    "combining-mark",
                    "warn",
                    f"'{label}' stacks {_character(mark)} twice on one letter, where the second one cannot "
                    "be seen.",
                )
            )
        if failed & _HIDDEN_OVERLAY:
            base, mark = next(_marked(label), ("", ""))
            found.append(
                Reason(
                    "combining-mark",
                    "warn",
                    f"'{label}' puts {_character(mark)} on '{base}', where it hides in the letter or makes "
                    "it pass for another one.",
                )
            )
        if not found:
            found.append(
                Reason(
                    "unusual-character", "warn", f"'{label}' mixes characters in a way browsers do not show."
                )
            )
        return found

    def _odd_character(self, label: str, c: str) -> Reason:
        looks = _looks_like(c)
        like = f", which looks like '{looks}'" if looks else ""
        if not self._idna2008_any.contains(c):
            why = "it is not valid in domain names under IDNA 2008"
        elif self._refused.contains(c):
            why = "browsers refuse it in site names"
        else:
            why = "browsers do not show it in site names"
        kind = _kind(c)
        return Reason(
            "unusual-character", "warn", f"'{label}' contains {_character(c)}, {kind}{like}; {why}."
        )

    # The browser's rules, in its order

    def _before_scripts(self) -> tuple[Callable[[str, str], Reason | None], ...]:
        return (self._tld_letter, self._middle_dot)

    def _tld_letter(self, label: str, tld: str) -> Reason | None:
        if len(label) < 2:
            return None
        for letter, tlds in rules.TLD_LETTERS.items():
            if letter in label and tld not in tlds:
                where = " and ".join(f".{t}" for t in tlds)
                return Reason(
                    "tld-letter",
                    "warn",
                    f"'{label}' uses {_character(letter)}, a Latin letter browsers show only under {where} "
                    "(the languages that use it); elsewhere it passes for another letter.",
                )
        return None

    def _middle_dot(self, label: str, tld: str) -> Reason | None:
        dots = [i for i, c in enumerate(label) if c == "\u00b7"]
        if not dots:
            return None
        between_ls = all(0 < i < len(label) - 1 and label[i - 1] == label[i + 1] == "l" for i in dots)
        if tld == "cat" and between_ls:
            return None
        return Reason(
            "middle-dot",
            "warn",
            f"'{label}' contains a middle dot '\u00b7', which browsers show only in Catalan names (.cat) "
            "between two l's (l\u00b7l); elsewhere it passes for a dot.",
        )

    def _whole_script(self, label: str, tld: str, tld_shown: str) -> Reason | None:
        if label in rules.ALLOWED_WHOLE_SCRIPT_WORDS:
            return None
        script = _script_code(label)
        if script in (None, "Latn"):
            return None
        listed = self._listed_scripts.get(script)
        letters = {c for c in label if _script_code(c) == script}
        derived = script not in _ONLY_LISTED_LETTERS
        if not all(
            (listed and c in listed.latin_lookalikes) or (derived and _passes_for_letters(c)) for c in letters
        ):
            return None
        homes = listed.home_tlds if listed else _home_tlds(script)
        if tld in homes or any(_script_code(c) == script for c in tld_shown):
            return None
        name = _script_name(next(iter(letters)))
        reads = skeletons().reading(label)
        where = ", ".join(f".{t}" for t in homes)
        ending = f"{_a(name)} {name} domain ending"
        home = f"under {where} or {ending}" if where else f"under {ending}"
        return Reason(
            "confusable",
            "warn",
            f"'{label}' is written in {name} letters that all look like Latin ones"
            + (f" (it reads as '{reads}')" if reads else "")
            + f"; a name like this is shown in {name} only {home}.",
        )

    def _digit_lookalikes(self, label: str) -> Reason | None:
        lookalikes = [c for c in label if not ("0" <= c <= "9")]
        if not lookalikes or not all(c in rules.DIGIT_LOOKALIKES or _passes_for_digit(c) for c in lookalikes):
            return None
        listed = ", ".join(f"the {_script_name(c)} '{c}'" for c in dict.fromkeys(lookalikes))
        return Reason(
            "digit-lookalike",
            "warn",
            f"'{label}' is made of digits and characters that look like digits ({listed}), so it can "
            "pass for a number.",
        )

    def _accented_latin_mixed(self, label: str) -> Reason | None:
        if not self._non_ascii_latin.containsSome(label) or self._lgc_and_ascii.containsAll(label):
            return None
        accented = next(c for c in label if self._non_ascii_latin.contains(c))
        others = " and ".join(s for s in _scripts(label) if s != "Latin") or "other"
        return Reason(
            "mixed-script",
            "warn",
            f"'{label}' mixes the Latin letter '{accented}' with {others} characters; "
            "beside other scripts browsers allow only plain Latin letters.",
        )

    def _patterns(self) -> tuple[Callable[[str], Reason | None], ...]:
        return (
            self._slash_lookalike,
            self._iteration_mark,
            self._kana_twin,
            self._kana_out_of_context,
            self._cjk_lookalike,
            self._mark_on_foreign_letter,
            self._mark_on_dotless,
            self._kana_sound_mark,
        )

    def _is(self, c: str, *scripts: str) -> bool:
        return any(self._scx[s].contains(c) for s in scripts)

    def _slash_lookalike(self, label: str) -> Reason | None:
        for before, c, after in _neighbours(label):
            if c in rules.SLASH_LOOKALIKES and before and after:
                if not self._is(before, *_JAPANESE) and not self._is(after, *_JAPANESE):
                    return Reason(
                        "cjk-lookalike",
                        "warn",
                        f"'{label}' has the {_script_name(c)} {_character(c)} between characters that are "
                        "not Japanese, where it passes for a slash.",
                    )
        return None

    def _iteration_mark(self, label: str) -> Reason | None:
        for before, c, _ in _neighbours(label):
            if c in "\u30fd\u30fe" and not (before and self._is(before, "Kana")):
                return Reason(
                    "kana-mark",
                    "warn",
                    f"'{label}' has the Katakana iteration mark {_character(c)} after a character that is "
                    "not Katakana.",
                )
        return None

    def _kana_twin(self, label: str) -> Reason | None:
        for twins, own, other in (
            ("\u3078\u3079\u307a", "Kana", "Hiragana"),
            ("\u30d8\u30d9\u30da", "Hira", "Katakana"),
        ):
            for i, c in enumerate(label):
                rest = label[:i] + label[i + 1 :]
                if c in twins and 0 < i < len(label) - 1 and all(self._is(x, own) for x in rest):
                    script = "Katakana" if own == "Kana" else "Hiragana"
                    return Reason(
                        "kana-mark",
                        "warn",
                        f"'{label}' puts the {other} {_character(c)} into a {script} name, where it looks "
                        f"exactly like its {script} twin.",
                    )
        return None

    def _kana_out_of_context(self, label: str) -> Reason | None:
        for before, c, after in _neighbours(label):
            if c == "\u30fc" and not (before and self._is(before, "Kana", "Hira")):
                return Reason(
                    "kana-mark",
                    "warn",
                    f"'{label}' has the Kana prolonged sound mark {_character(c)} with no Kana before it, "
                    "where it passes for a dash.",
                )
            if c == "\u30fb" and (_ascii_letter(before) or _ascii_letter(after)):
                return Reason(
                    "kana-mark",
                    "warn",
                    f"'{label}' has the Katakana middle dot {_character(c)} next to a Latin letter, where it "
                    "passes for a dot.",
                )
        return None

    def _cjk_passes_for_latin(self, c: str) -> bool:
        """A CJK character the browser lists, or a Han or Bopomofo one that passes for a Latin letter or
        digit (\u4e2b for y)."""
        listed = c in rules.CJK_LOOKALIKES
        return listed or (self._is(c, "Hani", "Bopo") and skeletons().passes_for(c) is not None)

    def _cjk_lookalike(self, label: str) -> Reason | None:
        for before, c, after in _neighbours(label):
            if not self._cjk_passes_for_latin(c):
                continue
            beside = [x for x in (before, after) if x and not self._is(x, *_CJK)]
            if beside:
                looks = skeletons().reading(c)
                like = f"'{looks}'" if looks else "a Latin letter, a digit or a dash"
                return Reason(
                    "cjk-lookalike",
                    "warn",
                    f"'{label}' has the {_script_name(c)} {_character(c)} next to the "
                    f"{_script_name(beside[0], 'character')} '{beside[0]}', where it passes for {like}.",
                )
        return None

    def _mark_on_foreign_letter(self, label: str) -> Reason | None:
        for before, c, _ in _neighbours(label):
            if before and self._diacritics.contains(c) and not self._is(before, "Latn", "Grek", "Cyrl"):
                return Reason(
                    "combining-mark",
                    "warn",
                    f"'{label}' puts {_character(c)} on the {_script_name(before)} '{before}', a letter "
                    "such marks do not belong to.",
                )
        return None

    def _mark_on_dotless(self, label: str) -> Reason | None:
        for before, c, _ in _neighbours(label):
            dotless = before == "\u0131" and self._diacritics.contains(c)
            if dotless or (before in ("i", "j", "l") and c == "\u0307"):
                return Reason(
                    "combining-mark",
                    "warn",
                    f"'{label}' puts {_character(c)} on the Latin '{before}', which makes it pass for "
                    "another letter.",
                )
        return None

    def _kana_sound_mark(self, label: str) -> Reason | None:
        for c in label:
            if c in "\u3099\u309a":
                return Reason(
                    "kana-mark",
                    "warn",
                    f"'{label}' contains the combining Kana sound mark {_character(c)}, which browsers do "
                    "not show in site names.",
                )
        return None


_JAPANESE = ("Kana", "Hira", "Hani")
_ONLY_LISTED_LETTERS = ("Cyrl", "Grek", "Hani", "Bopo")
"""Scripts whose whole-script look-alikes are the browser's list alone: Greek and Cyrillic letters are
weighed one by one, and a Han or Bopomofo look-alike counts only beside other scripts."""
_CJK = ("Kana", "Hira", "Hani", "Bopo")
_SCX = ("Kana", "Hira", "Hani", "Bopo", "Latn", "Grek", "Cyrl")


def _passes_for_letters(c: str) -> bool:
    """Whether `c` passes for one or more Latin letters (Lao \u0e9e for w)."""
    plain = skeletons().passes_for(c)
    return plain is not None and plain.isalpha()


def _passes_for_digit(c: str) -> bool:
    """Whether `c` passes for an ASCII digit (Cyrillic \u0431 for 6)."""
    plain = skeletons().passes_for(c)
    return plain is not None and len(plain) == 1 and plain.isdigit()


def _script_code(text: str) -> str | None:
    """The one script `text` is written in (ICU's short name, `Cyrl`), shared characters aside; None
    when it has none or several."""
    codes = {str(icu.Script.getScript(c).getShortName()) for c in text} - {"Zyyy", "Zinh", "Zzzz"}
    return codes.pop() if len(codes) == 1 else None


@lru_cache(maxsize=32)
def _home_tlds(script: str) -> tuple[str, ...]:
    """The country codes of the countries whose language is written in `script`, by ICU's likely
    subtags (`.la` for Lao): the homes of a script browsers name none for."""
    homes = []
    for country in icu.Locale.getISOCountries():
        likely = icu.Locale.createFromName(f"und_{country}")
        likely.addLikelySubtags()
        if likely.getScript() == script:
            homes.append(str(country).lower())
    return tuple(homes)


def _idna2008(*classes: str) -> icu.UnicodeSet:
    """The characters IDNA 2008 (RFC 5892) puts in `classes`, from the tables of `idna`."""
    valid = icu.UnicodeSet()
    for cls in classes:
        for packed in idna.idnadata.codepoint_classes[cls]:
            valid.add(chr(packed >> 32), chr((packed & 0xFFFFFFFF) - 1))
    valid.freeze()
    return valid


def _frozen(pattern: str) -> icu.UnicodeSet:
    found = icu.UnicodeSet(pattern)
    found.freeze()
    return found


def _neighbours(label: str) -> Iterator[tuple[str, str, str]]:
    for i, c in enumerate(label):
        yield (label[i - 1] if i else "", c, label[i + 1] if i + 1 < len(label) else "")


def _marked(label: str) -> Iterator[tuple[str, str]]:
    for before, c, _ in _neighbours(label):
        if before and unicodedata.category(c) == "Mn":
            yield before, c


def _repeated_mark(label: str) -> str:
    """The combining mark that occurs twice on one letter (after canonical decomposition)."""
    on_letter: set[str] = set()
    for c in unicodedata.normalize("NFD", label):
        if unicodedata.category(c) != "Mn":
            on_letter = set()
        elif c in on_letter:
            return c
        else:
            on_letter.add(c)
    return next((c for c in label if unicodedata.category(c) == "Mn"), "")


def _ascii_letter(c: str) -> bool:
    return "a" <= c <= "z"


def _character(c: str) -> str:
    """`c` quoted for a person, with its Unicode name (a combining mark shown on a dotted circle)."""
    name = str(icu.Char.charName(c)).lower()
    shown = f"\u25cc{c}" if unicodedata.category(c).startswith("M") else c
    if not name or name.startswith(("cjk unified ideograph", "hangul syllable")):
        return f"'{shown}' (U+{ord(c):04X})"
    return f"'{shown}' ({name}, U+{ord(c):04X})"


def _a(word: str) -> str:
    return "an" if word[:1].lower() in "aeiou" else "a"


def _kind(c: str) -> str:
    category = unicodedata.category(c)
    script = _script_name(c, "")
    of = f"{script} " if script else ""
    if category.startswith("L"):
        return f"{_a(of or 'letter')} {of}letter"
    if category.startswith("M"):
        return f"{_a(of or 'combining')} {of}combining mark"
    if category.startswith("N"):
        return f"{_a(of or 'digit')} {of}digit"
    if category.startswith("S"):
        return "a symbol"
    if category.startswith("P"):
        return "a punctuation mark"
    if category == "Cf":
        return "an invisible character"
    return "a character"


def _script_name(c: str, common: str = "Common") -> str:
    name = str(icu.Script.getScript(c).getName())
    return common if name in ("Common", "Inherited", "Unknown") else name.replace("_", " ")


def _scripts(label: str) -> list[str]:
    """The scripts of `label` in order of appearance, by Script_Extensions (shared characters left out)."""
    seen: dict[str, None] = {}
    for c in label:
        names = [str(icu.Script(code).getName()) for code in icu.Script.getScriptExtensions(c)]
        names = [n.replace("_", " ") for n in names if n not in ("Common", "Inherited", "Unknown")]
        if names and not any(n in seen for n in names):
            own = _script_name(c, "")
            seen.setdefault(own if own in names else names[0])
    return list(seen)


def _mixed_scripts(label: str, scripts: list[str]) -> Reason:
    listed = f" ({', '.join(scripts)})" if len(scripts) > 1 else ""
    return Reason(
        "mixed-script",
        "warn",
        f"'{label}' mixes writing systems{listed}, a common way to imitate a known name.",
    )


def _looks_like(c: str) -> str | None:
    """The plain ASCII `c` passes for, by Unicode's confusable data and the browser's additions."""
    reads = skeletons().reading(c)
    return reads if reads and reads != c else None
