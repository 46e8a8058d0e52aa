# ruff: noqa: RUF001
"""What browsers add to ICU before they show a host name in Unicode: their own short lists.

ICU brings the character data (scripts, confusable skeletons, the identifier sets of UTS 39) and
IDNA brings what a domain name may hold; what is here is what neither has: the letters of each
script that pass for Latin ones, the characters that pass for digits, the CJK characters that pass
for strokes and dashes, the letters that belong to one country's names, and the few characters
browsers refuse although Unicode recommends them. The values are Chromium's, from
components/url_formatter/spoof_checks/idn_spoof_checker.cc and skeleton_generator.cc
(chromium/chromium, BSD-3-Clause); where Chromium's lists differ by platform, the larger one is
taken. One letter is added to them: the Greek epsilon, which passes for a Latin e (so `αρριε.com`,
"apple" in Greek letters, is a whole-script look-alike here too). The lists of look-alike letters,
digits and CJK characters are where `_idn` starts, not all it knows: a character whose skeleton is
plain Latin or a digit counts too (outside Greek and Cyrillic for whole scripts).
"""

from __future__ import annotations

from typing import NamedTuple


class WholeScript(NamedTuple):
    """Letters of one script that all look like Latin ones, and the TLDs where the script is home."""

    script: str
    """ICU's short name of the script (ISO 15924)."""
    latin_lookalikes: str
    home_tlds: tuple[str, ...]


WHOLE_SCRIPT_LOOKALIKES = (
    WholeScript("Armn", "ագզէլհյոսւօՙ", ("am",)),
    WholeScript("Cyrl", "аысԁеԍһіюкјӏорԗԛѕԝхуъьҽпгѵѡ", ("bg", "by", "kz", "pyc", "ru", "su", "ua", "uz")),
    WholeScript("Ethi", "ሀሠሰስበነተከዐዕዘጠፐꬅ", ("er", "et")),
    WholeScript("Geor", "იოყძხჽჿ", ("ge",)),
    WholeScript("Grek", "αικνρυωηοτε", ("gr",)),
    WholeScript("Hebr", "דוחיןסװײ׳ﬦ", ("il",)),
    WholeScript("Beng", "০৭", ()),
    WholeScript("Deva", "ऽ०ॱ", ()),
    WholeScript("Gujr", "ડટ૦૧", ()),
    WholeScript("Guru", "੦੧", ()),
    WholeScript("Knda", "ಽ೦೧", ()),
    WholeScript("Mlym", "ടഠധനറ൦", ()),
    WholeScript("Orya", "ଠ୦୮", ()),
    WholeScript("Taml", "டப௦", ()),
    WholeScript("Telu", "౦౧", ()),
    WholeScript("Mymr", "ခဂငထပဝ၀၂ၔၜ\u1090\u1091\u1095\u1096\u1097", ("mm",)),
    WholeScript("Thai", "ทนบพรหเแ๐ดลปฟม", ("th",)),
)

ALLOWED_WHOLE_SCRIPT_WORDS = frozenset(
    ("секс", "как", "коса", "курс", "парк", "такий", "укроп", "сахарок", "покраска")
)
"""Common Cyrillic words made of Latin look-alikes that spell no Latin word."""

DIGIT_LOOKALIKES = "θ२২੨૨೩೭շзҙӡउওਤ੩૩౩ဒვპੜკ੫丩ㄐճ৪੪୫૭୨౨"

REFUSED_CHARACTERS = (
    "[\u0338"  # combining long solidus overlay: a slash with a broken font
    "\u058a\u2010\u2019\u2027\u30a0"  # hyphens and a quotation mark
    "\u02bb\u02bc"  # quotation mark look-alikes
    "\u02ec"  # modifier letter voicing
    "\u0138"  # Latin kra, historic
    "\u01cd-\u01dc"  # Latin Extended-B, Pinyin
    "\u1c80-\u1c8f"  # Cyrillic Extended-C
    "\u1e00-\u1e9b"  # Latin Extended Additional
    "\u1f00-\u1fff"  # Greek Extended
    "\ua640-\ua69f"  # Cyrillic Extended-B
    "\ua720-\ua7ff]"  # Latin Extended-D
)
"""An ICU set pattern: characters Unicode recommends in identifiers that browsers still refuse."""

TLD_LETTERS = {"þ": ("is", "fo"), "ð": ("is", "fo"), "ə": ("az",)}
"""Latin letters shown only under the TLDs of the languages that use them."""

KANA_EXCEPTIONS = "[\u3078-\u307a\u30d8-\u30da\u30fb-\u30fe]"
"""Kana that need a closer look even in a single-script name (ICU set pattern)."""

SLASH_LOOKALIKES = "\u30ce\u30f3\u30bd\u30be\u4e36\u4e40\u4e41\u4e3f"
"""Katakana and CJK ideographs that pass for slashes between non-Japanese characters."""

CJK_LOOKALIKES = (
    "\u4e00\u3127\u4e28\u4e5b\u4e03\u4e05\u5341\u3007\u3112\u311a"
    "\u311f\u3128\u3129\u3108\u31ba\u31b3\u5de5\u31b2\u8ba0\u4e01"
)
"""CJK ideographs and Bopomofo that pass for Latin letters, digits or dashes beside non-CJK."""

EXTRA_CONFUSABLES = (
    "[æӕ] > ae; [ϼҏ] > p; [ħнћңҥӈӊԋԧԩ] > h;"
    "[ĸκкқҝҟҡӄԟ] > k; [ŋпԥกח] > n;"
    "[ŧтҭԏ七丅丆丁] > t; [ƅьҍв] > b;  [ωшщพฟພຟ] > w;"
    "[мӎ] > m; [єҽҿၔ] > e; ґ > r; [ғӻ] > f;"
    "[ҫင] > c; [ұ丫] > y; [χҳӽӿ乂] > x;"
    "[ԃძ]  > d; [ԍဌ] > g; [ടรຣຮ] > s; ၂ > j;"
    "[०০੦૦ଠ୦೦] > o;"
    "[৭੧૧] > q;"
    "[บບ] > u;"
    "[θ] > 0;"
    "[२২੨੨૨೩೭շ] > 2;"
    "[зҙӡउওਤ੩૩౩ဒვპ] > 3;"
    "[੫丩ㄐ] > 4;"
    "[ճ] > 6;"
    "[৪੪୫] > 8;"
    "[૭୨౨] > 9;"
    "[—一―⸺⸻] > \\-;"
)
"""ICU transliterator rules: look-alikes Unicode's confusable data does not map, for skeletons."""

SEVERAL_SKELETONS = {"þ": ("b", "p"), "œ": ("ce", "oe"), "ӏ": ("l",)}
"""Characters that pass for more than one thing; each reading is tried."""
