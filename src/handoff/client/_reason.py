"""One finding of the URL check, in the words a person reads."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal


@dataclass(frozen=True)
class Reason:
    """One finding: a stable `code`, its severity, and a sentence for a person.

    A `note` only explains (why a link that would look odd elsewhere is fine here); it never
    changes the verdict."""

    code: str
    severity: Literal["warn", "block", "note"]
    text: str
