"""A command line as handoff shows it to a person, with the secrets in it left out.

A server started over stdio is named by its command, in errors, consent screens and reports, and
that command often carries keys: `env SERVER_SECRET=… python server.py --api-key …`. Every place that
shows one renders it with `displayed`.
"""

from __future__ import annotations

import re
import shlex
from collections.abc import Sequence

HIDDEN = "***"
"""What stands in a shown command line for a value that is left out."""

_SECRET = re.compile(r"secret|key|token|password|passwd|passphrase|credential", re.IGNORECASE)
_NAMES_A_PLACE = re.compile(r"(file|path|dir)$", re.IGNORECASE)
"""`--token-file`, `KEY_PATH`: the value says where a secret is, which is no secret."""
_ASSIGNMENT = re.compile(r"([A-Za-z_][A-Za-z0-9_]*)=(.*)", re.DOTALL)
_OPTION = re.compile(r"(--?[A-Za-z0-9][A-Za-z0-9_.-]*)(=.*)?", re.DOTALL)
_URL_PASSWORD = re.compile(r"^([A-Za-z][A-Za-z0-9+.-]*://[^/?#@:]*):[^/?#@]*@")


def secret_name(name: str) -> bool:
    """Whether a variable or an option of this name holds a secret (`SERVER_SECRET`, `--api-key`)."""
    bare = name.lstrip("-")
    return bool(_SECRET.search(bare)) and not _NAMES_A_PLACE.search(bare)


def displayed(argv: Sequence[str]) -> str:
    """`argv` as a shell would read it, with the values of secret-named environment assignments
    (`API_KEY=…`) and options (`--password …`, `--token=…`) and the passwords of URLs
    (`postgresql://user:…@host`) replaced by `***`."""
    shown: list[str] = []
    hide_next = False
    for word in argv:
        if hide_next:
            shown.append(HIDDEN)
            hide_next = False
        elif (option := _OPTION.fullmatch(word)) and secret_name(option.group(1)):
            name = shlex.quote(option.group(1))
            if option.group(2) is None:
                shown.append(name)
                hide_next = True
            else:
                shown.append(f"{name}={HIDDEN}")
        elif (assignment := _ASSIGNMENT.fullmatch(word)) and secret_name(assignment.group(1)):
            shown.append(f"{assignment.group(1)}={HIDDEN}")
        else:
            shown.append(shlex.quote(_URL_PASSWORD.sub(rf"\1:{HIDDEN}@", word)))
    return " ".join(shown)
