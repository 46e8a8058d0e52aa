"""Look-alikes of well-known domains: a host whose skeleton is a top domain's, like `googlé.com`.

A skeleton is what a name looks like, with every character replaced by the one it passes for
(Unicode's confusable data through ICU, plus the browser's additions), so `googlé.com`, `g\u043e\u043egle.com`
(Cyrillic o's) and `google.com` share one. The well-known domains are the list Chromium ships
(data/top_domains.list); their skeletons are computed when the list is first needed, with the ICU
of this machine, so they always agree with the skeletons of the hosts they are compared with.
"""

from __future__ import annotations

import itertools
import threading
from functools import lru_cache
from importlib.resources import files

import icu

from ._browser_rules import EXTRA_CONFUSABLES, SEVERAL_SKELETONS

_LABELS_COMPARED = 4  # no well-known domain has more labels
_MOST_READINGS = 32  # a name with more alternative readings than this is no convincing spoof
_LGC_AND_ASCII = "[[:Latin:][:Greek:][:Cyrillic:][0-9._\\-][\u0300-\u0339]]"


class Skeletons:
    """The skeletons of host names, as the browser computes them for comparing with top domains."""

    def __init__(self) -> None:
        self._checker = icu.SpoofChecker()
        forward = icu.UTransDirection.FORWARD
        self._drop_accents = icu.Transliterator.createFromRules(
            "DropAccents", "::NFD; ::[:Nonspacing Mark:] Remove; ::NFC; ł > l; ø > o; đ > d;", forward
        )
        self._extra = icu.Transliterator.createFromRules("ExtraConfusables", EXTRA_CONFUSABLES, forward)
        self._lgc = icu.UnicodeSet(_LGC_AND_ASCII)
        self._lgc.freeze()
        self._lock = threading.Lock()  # ICU transliterators are not safe to share between threads

    def of(self, host: str) -> set[str]:
        """Every skeleton `host` (Unicode, lower case) can be read as."""
        host = host.rstrip(".")
        if host.isascii():
            return {self._checker.getSkeleton(0, host)}
        with self._lock:
            if self._lgc.containsAll(host):
                host = self._drop_accents.transliterate(host)
            return {
                self._checker.getSkeleton(0, self._extra.transliterate(reading))
                for reading in _readings(host)
            }

    def reading(self, text: str) -> str | None:
        """`text` spelled with the plain letters its characters pass for, for a person to read (the
        Cyrillic `\u0430\u0440\u0440\u04cf\u0435` reads as `apple`); None when some character passes
        for nothing plain."""
        out = []
        for c in text:
            if c.isascii():
                out.append(c)
                continue
            with self._lock:
                bare = self._drop_accents.transliterate(c) if self._lgc.contains(c) else c
                mapped = self._extra.transliterate(SEVERAL_SKELETONS.get(bare, (bare,))[0])
            if not mapped.isascii():
                mapped = str(self._checker.getSkeleton(0, mapped))
            if not (mapped.isascii() and mapped.isprintable() and mapped.strip()):
                return None
            out.append(mapped)
        return "".join(out)

    def passes_for(self, c: str) -> str | None:
        """The plain letters or digit the character `c` alone passes for (Cyrillic `\u0431` for 6, Lao
        `\u0e9e` for w), by Unicode's confusable data and the browser's additions; None when it passes
        for nothing plain. Unlike `reading`, an accent is not looked through: `\u0451` is not an e."""
        if c.isascii():
            return None
        with self._lock:
            mapped = str(self._checker.getSkeleton(0, self._extra.transliterate(c)))
        return mapped if mapped.isascii() and mapped.isalnum() else None


def _readings(host: str) -> list[str]:
    """`host` and its alternatives where a character passes for more than one thing (þ: b or p)."""
    choices = [(c, *SEVERAL_SKELETONS.get(c, ())) for c in host]
    if sum(len(options) > 1 for options in choices) > 5:
        return [host]
    return ["".join(reading) for reading in itertools.islice(itertools.product(*choices), _MOST_READINGS)]


class TopDomains:
    """Well-known domains by skeleton; `similar_to` names the one a host imitates, if any."""

    def __init__(self, domains: list[str], skeletons: Skeletons) -> None:
        self._skeletons = skeletons
        self._by_skeleton: dict[str, str] = {}
        for domain in domains:
            for skeleton in skeletons.of(domain):
                self._by_skeleton.setdefault(skeleton, domain)

    def similar_to(self, host: str) -> str | None:
        """The well-known domain `host` (Unicode, lower case) looks like without being it or under it."""
        host = host.rstrip(".")
        for skeleton in sorted(self._skeletons.of(host)):
            labels = skeleton.split(".")[-_LABELS_COMPARED:]
            while len(labels) >= 2:
                domain = self._by_skeleton.get(".".join(labels))
                if domain is not None:
                    return None if host == domain or host.endswith("." + domain) else domain
                labels = labels[1:]
        return None


@lru_cache(maxsize=1)
def skeletons() -> Skeletons:
    return Skeletons()


@lru_cache(maxsize=1)
def top_domains() -> TopDomains:
    """The bundled list, read once (the first time a host with a Unicode label is checked)."""
    text = files("handoff.client").joinpath("data/top_domains.list").read_text(encoding="utf-8")
    names = [line.strip() for line in text.splitlines()]
    return TopDomains([_unicode(name) for name in names if name and not name.startswith("#")], skeletons())


def _unicode(domain: str) -> str:
    if "xn--" not in domain:
        return domain
    info = icu.IDNAInfo()
    shown = str(icu.IDNA(icu.IDNA.CHECK_NONTRANSITIONAL_TO_UNICODE).nameToUnicode(domain, info))
    return domain if info.errors() else shown
