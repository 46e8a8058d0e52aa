"""Page text in the person's language: gettext catalogs (Babel), chosen from `Accept-Language`.

handoff ships its catalogs as `.po` files (`handoff/locale/<lang>/LC_MESSAGES/handoff.po`) and
compiles them in memory when first used; an author may add languages, or change wording, with
catalogs of the same layout. English is the source language: its text is the message ids.

Page code marks text with `gettext` / `ngettext` (imported as `_` / `ngettext`), which translate
into the language of the request being served (set by `Language`, the pages' middleware).
"""

from __future__ import annotations

import contextvars
import gettext as stdlib_gettext
import io
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from importlib.resources import files
from pathlib import Path
from typing import Any

from babel import Locale, UnknownLocaleError
from babel.core import negotiate_locale
from babel.messages.mofile import write_mo
from babel.messages.pofile import read_po
from babel.support import Translations
from starlette.types import ASGIApp, Receive, Scope, Send

from ._errors import ConfigError

DOMAIN = "handoff"
SOURCE = "en"
"""The language the message ids are written in."""


@dataclass(frozen=True)
class Speech:
    """One language as pages speak it: its catalog and its Babel locale (for dates and direction)."""

    tag: str
    """The BCP 47 tag the page declares (`<html lang>`), like `de` or `pt-BR`."""
    translations: stdlib_gettext.NullTranslations
    locale: Locale

    @property
    def direction(self) -> str:
        return "rtl" if self.locale.character_order == "right-to-left" else "ltr"

    def gettext(self, message: str, **params: Any) -> str:
        text = self.translations.gettext(message)
        return text % params if params else text

    def ngettext(self, singular: str, plural: str, n: int, **params: Any) -> str:
        text = self.translations.ngettext(singular, plural, n)
        return text % {"num": n, **params}


ENGLISH = Speech(SOURCE, stdlib_gettext.NullTranslations(), Locale.parse(SOURCE))
"""The source language: its texts are the message ids themselves."""


def _locale(tag: str) -> Locale:
    try:
        return Locale.parse(tag, sep="-" if "-" in tag else "_")
    except (UnknownLocaleError, ValueError) as exc:
        raise ConfigError(f"{tag!r} is not a language Babel knows; use a tag like 'de' or 'pt-BR'") from exc


def _compiled(po: bytes, tag: str, where: str) -> Translations:
    try:
        catalog = read_po(io.BytesIO(po), locale=tag.replace("-", "_"), domain=DOMAIN)
    except Exception as exc:
        raise ConfigError(f"the catalog {where} cannot be read: {exc}") from exc
    mo = io.BytesIO()
    write_mo(mo, catalog, use_fuzzy=False)
    mo.seek(0)
    return Translations(fp=mo, domain=DOMAIN)


def _shipped() -> dict[str, bytes]:
    """handoff's own catalogs, by language tag."""
    root = files("handoff") / "locale"
    found: dict[str, bytes] = {}
    for folder in root.iterdir():
        po = folder / "LC_MESSAGES" / f"{DOMAIN}.po"
        if po.is_file():
            found[folder.name.replace("_", "-")] = po.read_bytes()
    return found


def _authored(folder: Path) -> dict[str, bytes]:
    if not folder.is_dir():
        raise ConfigError(
            f"translations folder {str(folder)!r} does not exist: give a folder holding "
            f"<language>/LC_MESSAGES/{DOMAIN}.po files"
        )
    found = {
        po.parent.parent.name.replace("_", "-"): po.read_bytes()
        for po in sorted(folder.glob(f"*/LC_MESSAGES/{DOMAIN}.po"))
    }
    if not found:
        raise ConfigError(f"translations folder {str(folder)!r} holds no <language>/LC_MESSAGES/{DOMAIN}.po")
    return found


class Catalogs:
    """The languages the pages offer, and which one a request gets.

    `extra` is an author's folder of catalogs (new languages, or other wording for shipped ones: an
    author's message wins); `offered` limits the languages to those tags (default: every catalog, and
    English); `fixed` always speaks one language whatever the browser asks."""

    def __init__(
        self,
        extra: str | Path | None = None,
        *,
        offered: Iterable[str] | None = None,
        fixed: str | None = None,
    ) -> None:
        sources: dict[str, list[tuple[bytes, str]]] = {}
        for tag, po in _shipped().items():
            sources.setdefault(tag, []).append((po, f"handoff/{tag}"))
        if extra is not None:
            for tag, po in _authored(Path(extra)).items():
                sources.setdefault(tag, []).append((po, f"{extra}/{tag}"))
        self._speech: dict[str, Speech] = {SOURCE: ENGLISH}
        for tag, parts in sources.items():
            merged: Translations | None = None
            for po, where in parts:
                compiled = _compiled(po, tag, where)
                merged = compiled if merged is None else merged.merge(compiled)
            assert merged is not None
            self._speech[tag] = Speech(tag, merged, _locale(tag))
        if offered is not None:
            wanted = list(dict.fromkeys(offered))
            missing = [tag for tag in wanted if tag not in self._speech]
            if missing:
                raise ConfigError(
                    f"no catalog for {', '.join(missing)}: handoff speaks {', '.join(sorted(self._speech))}; "
                    "add others with translations=<folder>"
                )
            if not wanted:
                raise ConfigError("languages must name at least one language")
            self._speech = {tag: self._speech[tag] for tag in wanted}
        if fixed is not None and fixed not in self._speech:
            raise ConfigError(f"language {fixed!r} is not offered: choose one of {', '.join(self._speech)}")
        self._fixed = fixed
        self._default = fixed or (SOURCE if SOURCE in self._speech else next(iter(self._speech)))

    @property
    def tags(self) -> list[str]:
        return list(self._speech)

    def speech(self, tag: str) -> Speech:
        return self._speech[tag]

    def choose(self, accept_language: str | None) -> Speech:
        """The language for a request: the author's fixed one, else the browser's first preference
        that is offered (`de-CH` takes `de`), else the default."""
        if self._fixed is not None:
            return self._speech[self._fixed]
        available = list(self._speech)
        for wanted in preferences(accept_language or ""):
            found = negotiate_locale([wanted], available, sep="-")
            if found is None and "-" in wanted:
                found = negotiate_locale([wanted.split("-")[0]], available, sep="-")
            if found is not None:
                return self._speech[found]
        return self._speech[self._default]


def preferences(header: str, limit: int = 16) -> list[str]:
    """The language tags of an `Accept-Language` header, most wanted first (q=0 means not wanted)."""
    weighted: list[tuple[float, int, str]] = []
    for position, item in enumerate(header.split(",")[:limit]):
        tag, _, rest = item.strip().partition(";")
        tag = tag.strip()
        if not tag or tag == "*" or len(tag) > 35 or not all(c.isalnum() or c == "-" for c in tag):
            continue
        q = 1.0
        for param in rest.split(";"):
            name, _, value = param.strip().partition("=")
            if name.strip().lower() == "q":
                try:
                    q = float(value)
                except ValueError:
                    q = 0.0
        if q > 0:
            weighted.append((-q, position, tag))
    return [tag for _, _, tag in sorted(weighted)]


_current: contextvars.ContextVar[Speech] = contextvars.ContextVar("handoff_speech", default=ENGLISH)


def current() -> Speech:
    """The language of the request being served (English outside a page request)."""
    return _current.get()


def gettext(message: str, **params: Any) -> str:
    """`message` in the current request's language, with `%(name)s` placeholders filled from `params`."""
    return _current.get().gettext(message, **params)


def N_(message: str) -> str:
    """Marks `message` for the catalog without translating it (it is translated where it is shown)."""
    return message


def ngettext(singular: str, plural: str, n: int, **params: Any) -> str:
    """The singular or plural form for `n` (`%(num)d` is `n`) in the current request's language."""
    return _current.get().ngettext(singular, plural, n, **params)


class Language:
    """ASGI middleware that picks the language of each page request (see `Catalogs.choose`)."""

    def __init__(self, app: ASGIApp, catalogs: Catalogs) -> None:
        self.app = app
        self.catalogs = catalogs

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        headers: Mapping[bytes, bytes] = dict(scope.get("headers", []))
        accept = headers.get(b"accept-language", b"").decode("latin-1")
        token = _current.set(self.catalogs.choose(accept))
        try:
            await self.app(scope, receive, send)
        finally:
            _current.reset(token)
