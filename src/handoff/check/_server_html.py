"""The forms on a page, read the way a scripted browser needs them: what to fill, what to press.

Nothing here knows handoff's own templates: a sign-in form is told by its password and user
fields (or an action named like a sign-in), a form that takes input by its visible fields and
buttons, so the checker can drive any server's plain HTML pages.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from html.parser import HTMLParser

_TEXT_TYPES = {"", "text", "password", "email", "search", "tel", "url", "number"}
_USER_NAMES = re.compile(r"^(user(name)?|login|email|e-?mail|account)$", re.I)
_SIGN_IN_ACTION = re.compile(r"(log|sign)[-_]?in\b|/authenticate\b", re.I)
_GOOD = re.compile(
    r"\b(save|approve|allow|accept|continue|connect|confirm|submit|sign in|yes|ok|done)\b", re.I
)
_BAD = re.compile(r"\b(deny|decline|cancel|reject|no|refuse|sign out|log out)\b", re.I)


@dataclass
class Field:
    name: str
    kind: str
    """The input's type ("text", "password", "hidden", "checkbox"…), "textarea" or "select"."""
    value: str = ""
    checked: bool = False
    placeholder: str = ""

    @property
    def typed(self) -> bool:
        """A field a person types into."""
        return self.kind in _TEXT_TYPES or self.kind == "textarea"


@dataclass
class Button:
    name: str
    value: str
    label: str


@dataclass
class Form:
    action: str
    method: str
    fields: list[Field] = field(default_factory=list)
    buttons: list[Button] = field(default_factory=list)

    @property
    def is_sign_in(self) -> bool:
        """A sign-in form: a password with a user name beside it (or an action named like one)."""
        has_password = any(f.kind == "password" for f in self.fields)
        has_user = any(_USER_NAMES.match(f.name) for f in self.fields if f.kind != "password")
        return (has_password and has_user) or bool(_SIGN_IN_ACTION.search(self.action))

    @property
    def takes_input(self) -> bool:
        """Something a person could fill in or press (beyond a sign-in)."""
        return not self.is_sign_in and (any(f.typed for f in self.fields) or bool(self.buttons))

    def best_button(self) -> Button | None:
        """The button that goes ahead (save, approve, allow…), never one that declines."""
        good = [b for b in self.buttons if _GOOD.search(f"{b.value} {b.label}")]
        if good:
            return good[0]
        neutral = [b for b in self.buttons if not _BAD.search(f"{b.value} {b.label}")]
        return neutral[0] if neutral else None

    def filled(self, value: str, *, user: str | None = None, password: str | None = None) -> dict[str, str]:
        """The data this form posts with typed fields set to `value` (or the sign-in's user and
        password), hidden fields kept and the best button pressed."""
        data: dict[str, str] = {}
        for f in self.fields:
            if not f.name:
                continue
            if f.kind == "hidden":
                data[f.name] = user if user is not None and _USER_NAMES.match(f.name) else f.value
            elif f.kind == "password" and password is not None:
                data[f.name] = password
            elif f.typed and user is not None and _USER_NAMES.match(f.name):
                data[f.name] = user
            elif f.typed:
                data[f.name] = value if user is None else f.value
            elif f.kind in ("checkbox", "radio"):
                if f.checked:
                    data[f.name] = f.value or "on"
            elif f.kind == "select":
                data[f.name] = f.value
        button = self.best_button()
        if button is not None and button.name:
            data[button.name] = button.value
        return data


class _Parser(HTMLParser):
    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.forms: list[Form] = []
        self._form: Form | None = None
        self._button: Button | None = None
        self._select: Field | None = None
        self._text: list[str] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        a = {k: v or "" for k, v in attrs}
        if tag == "form":
            self._form = Form(a.get("action", ""), a.get("method", "get").lower())
            self.forms.append(self._form)
            return
        form = self._form
        if form is None:
            return
        if tag == "input":
            kind = a.get("type", "text").lower()
            if kind in ("submit", "image"):
                form.buttons.append(Button(a.get("name", ""), a.get("value", ""), a.get("value", "")))
            elif kind not in ("button", "reset", "file"):
                form.fields.append(
                    Field(
                        a.get("name", ""), kind, a.get("value", ""), "checked" in a, a.get("placeholder", "")
                    )
                )
        elif tag == "textarea":
            form.fields.append(Field(a.get("name", ""), "textarea", placeholder=a.get("placeholder", "")))
        elif tag == "select":
            self._select = Field(a.get("name", ""), "select")
            form.fields.append(self._select)
        elif tag == "option" and self._select is not None and not self._select.value:
            self._select.value = a.get("value", "")
        elif tag == "button" and a.get("type", "submit").lower() == "submit":
            self._button = Button(a.get("name", ""), a.get("value", ""), "")
            self._text = []

    def handle_data(self, data: str) -> None:
        if self._button is not None:
            self._text.append(data)

    def handle_endtag(self, tag: str) -> None:
        if tag == "button" and self._button is not None and self._form is not None:
            self._button.label = " ".join("".join(self._text).split())
            self._form.buttons.append(self._button)
            self._button = None
        elif tag == "select":
            self._select = None
        elif tag == "form":
            self._form = None


def forms_of(html: str) -> list[Form]:
    parser = _Parser()
    parser.feed(html)
    parser.close()
    return parser.forms


_EXAMPLE = re.compile(r"(?:for example|e\.g\.|such as)[,:]?\s+([^\s<>\"',;]+)", re.I)


def examples_on(html: str, forms: list[Form]) -> list[str]:
    """Values a page offers as examples (placeholders, "for example X"), for a form that refused the
    checker's own test value."""
    found = [f.placeholder for form in forms for f in form.fields if f.typed and f.placeholder]
    text = re.sub(r"<[^>]+>", " ", html)
    found += [m.group(1).rstrip(".:") for m in _EXAMPLE.finditer(text)]
    return [v for i, v in enumerate(found) if v and v not in found[:i]]


def alert_on(html: str) -> str:
    """The text of a page's error or alert, if it shows one (to say why a form was refused)."""
    match = re.search(r'<[^>]+(?:role="alert"|class="[^"]*error[^"]*")[^>]*>(.*?)</', html, re.S | re.I)
    return " ".join(re.sub(r"<[^>]+>", " ", match.group(1)).split()) if match else ""
