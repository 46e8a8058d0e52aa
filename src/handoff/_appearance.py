"""How the out-of-band pages present themselves: whose they are, how they look, what they speak."""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import urlsplit

import jinja2

from ._errors import ConfigError

_HEX = re.compile(r"#(?:[0-9a-fA-F]{3}|[0-9a-fA-F]{6})")
LOGO_TYPES = {
    ".svg": "image/svg+xml",
    ".png": "image/png",
    ".jpg": "image/jpeg",
    ".jpeg": "image/jpeg",
    ".webp": "image/webp",
    ".gif": "image/gif",
}
MAX_LOGO = 512 * 1024
MAX_STYLESHEET = 256 * 1024

LIGHT_BACKGROUND = "#ffffff"
DARK_BACKGROUND = "#16181d"
"""The page backgrounds of style.css, light and dark: derived colours are checked against these."""


@dataclass(frozen=True)
class Appearance:
    """Whose pages these are and how they look: set by the server's author, shown on every page.

    - `name`: the display name people see ("Acme Calendar"); default: the MCP server's own name.
    - `logo`: an image file (SVG, PNG, JPEG, WebP or GIF, up to 512 KiB) shown beside the name.
    - `accent`: the colour of buttons and links, `#rrggbb`; text on it, and a darker or lighter shade
      for links, are derived so that they keep WCAG AA contrast in light and dark mode.
    - `support_url`: where a person gets help (`https://…` or `mailto:…`), linked in every footer.
    - `templates`: a folder (or a Jinja2 loader) whose templates replace handoff's of the same name;
      one may extend the original as `handoff/<name>` and change only a block.
    - `stylesheet`: a CSS file served after handoff's own, to set its CSS variables or add rules.
    - `languages`: the languages offered (default: every catalog); `language`: always this one;
      `translations`: a folder of `<language>/LC_MESSAGES/handoff.po` catalogs to add languages or
      change wording (they may also translate the labels and help of your needs).
    - `clients`: display names of OAuth client ids this server's operator knows (for identities,
      such as an external authorization server, where handoff cannot look a client's name up).

    The security headers and the no-script content security policy stay in force whatever is set.
    """

    name: str | None = None
    logo: str | Path | None = None
    accent: str | None = None
    support_url: str | None = None
    templates: str | Path | jinja2.BaseLoader | None = None
    stylesheet: str | Path | None = None
    languages: Sequence[str] | None = None
    language: str | None = None
    translations: str | Path | None = None
    clients: dict[str, str] = field(default_factory=dict)

    def __post_init__(self) -> None:
        if self.name is not None and not (0 < len(self.name.strip()) <= 80):
            raise ConfigError("Appearance name must be 1 to 80 characters, like 'Acme Calendar'")
        if self.accent is not None and not _HEX.fullmatch(self.accent):
            raise ConfigError(f"accent {self.accent!r} must be a hex colour like '#0b7a5c' or '#07c'")
        if self.support_url is not None:
            _check_support(self.support_url)
        if self.logo is not None:
            logo_file(self.logo)
        if self.stylesheet is not None:
            _read(self.stylesheet, "stylesheet", MAX_STYLESHEET, (".css",))
        if self.templates is not None and not isinstance(self.templates, jinja2.BaseLoader):
            if not Path(self.templates).is_dir():
                raise ConfigError(f"templates folder {str(self.templates)!r} does not exist")

    def loader(self) -> jinja2.BaseLoader:
        """The author's templates first, then handoff's; handoff's are also reachable as `handoff/…`."""
        own = jinja2.PackageLoader("handoff", "templates")
        chain: list[jinja2.BaseLoader] = []
        if self.templates is not None:
            chain.append(
                self.templates
                if isinstance(self.templates, jinja2.BaseLoader)
                else jinja2.FileSystemLoader(str(self.templates))
            )
        chain += [own, jinja2.PrefixLoader({"handoff": own})]
        return jinja2.ChoiceLoader(chain)

    def theme_css(self) -> str:
        """The CSS served after style.css: the accent's variables, then the author's stylesheet."""
        parts = []
        if self.accent is not None:
            accent = _expand(self.accent)
            light = _ink(accent, LIGHT_BACKGROUND, toward="#000000")
            dark = _ink(accent, DARK_BACKGROUND, toward="#ffffff")
            parts.append(
                f":root {{ --accent: {accent}; --on-accent: {on_colour(accent)}; --accent-ink: {light}; }}\n"
                f"@media (prefers-color-scheme: dark) {{ :root {{ --accent-ink: {dark}; }} }}\n"
            )
        if self.stylesheet is not None:
            parts.append(_read(self.stylesheet, "stylesheet", MAX_STYLESHEET, (".css",)).decode("utf-8"))
        return "".join(parts)


def _check_support(url: str) -> None:
    parts = urlsplit(url)
    if parts.scheme == "mailto" and "@" in parts.path:
        return
    if parts.scheme == "https" and parts.hostname:
        return
    raise ConfigError(f"support_url {url!r} must be an https:// page or a mailto: address")


def _read(path: str | Path, what: str, limit: int, suffixes: Sequence[str]) -> bytes:
    file = Path(path)
    if file.suffix.lower() not in suffixes:
        raise ConfigError(f"{what} {str(file)!r} must be one of: {', '.join(suffixes)}")
    try:
        data = file.read_bytes()
    except OSError as exc:
        raise ConfigError(f"cannot read {what} {str(file)!r}: {exc.strerror}") from exc
    if len(data) > limit:
        raise ConfigError(f"{what} {str(file)!r} is larger than {limit // 1024} KiB")
    if what == "stylesheet":
        try:
            data.decode("utf-8")
        except UnicodeDecodeError as exc:
            raise ConfigError(f"stylesheet {str(file)!r} is not UTF-8 text") from exc
    return data


def logo_file(path: str | Path) -> tuple[bytes, str, str]:
    """The logo's bytes, its media type and the file name suffix it is served under."""
    suffix = Path(path).suffix.lower()
    data = _read(path, "logo", MAX_LOGO, tuple(LOGO_TYPES))
    return data, LOGO_TYPES[suffix], ".jpg" if suffix == ".jpeg" else suffix


# Colour: WCAG 2.2 relative luminance and contrast ratio, on sRGB hex colours.


def _expand(colour: str) -> str:
    value = colour.lstrip("#").lower()
    if len(value) == 3:
        value = "".join(c * 2 for c in value)
    return f"#{value}"


def _channels(colour: str) -> tuple[float, float, float]:
    value = _expand(colour)
    r, g, b = (int(value[i : i + 2], 16) / 255 for i in (1, 3, 5))
    return r, g, b


def luminance(colour: str) -> float:
    def linear(c: float) -> float:
        return c / 12.92 if c <= 0.04045 else ((c + 0.055) / 1.055) ** 2.4

    r, g, b = (linear(c) for c in _channels(colour))
    return 0.2126 * r + 0.7152 * g + 0.0722 * b


def contrast(a: str, b: str) -> float:
    la, lb = sorted((luminance(a), luminance(b)), reverse=True)
    return (la + 0.05) / (lb + 0.05)


def on_colour(background: str) -> str:
    """White or black text, whichever reads better on `background` (one of them always reaches 4.5:1)."""
    return max(("#ffffff", "#000000"), key=lambda text: contrast(text, background))


def _mix(a: str, b: str, amount: float) -> str:
    mixed = (round((x + (y - x) * amount) * 255) for x, y in zip(_channels(a), _channels(b), strict=True))
    return "#" + "".join(f"{c:02x}" for c in mixed)


def _ink(colour: str, background: str, *, toward: str, ratio: float = 4.5) -> str:
    """`colour`, mixed toward black or white just enough to be readable text on `background`."""
    for step in range(21):
        shade = _mix(colour, toward, step / 20)
        if contrast(shade, background) >= ratio:
            return shade
    return toward
