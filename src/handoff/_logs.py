"""Logs: one line per lifecycle step of a record (made, opened, refused for identity, completed, told,
woken, expired, ...) with the fields of its audit line, never a value.

Lines go to the `handoff.lifecycle` logger at INFO. By default they are text and the host's logging
configuration decides where they go; `HANDOFF_LOG_FORMAT=json` (or `human`) makes `Handoff` send
every `handoff` logger's lines to stderr itself, JSON being one object per line, for a log shipper.
"""

from __future__ import annotations

import json
import logging
import os
from typing import TYPE_CHECKING, Any

from ._errors import ConfigError

if TYPE_CHECKING:
    from .audit import Entry

__all__ = ["LOG_FORMAT", "NOTIFIED", "WOKEN", "JsonLines", "configure", "lifecycle"]

LOG_FORMAT = "HANDOFF_LOG_FORMAT"
"""Environment variable: `json` for one JSON object per line, `human` for text (unset: the host's)."""
NOTIFIED = "notified"
"""The step of a completion notice sent to the session that asked (2025-11-25)."""
WOKEN = "woken"
"""The step of a held request waking on its record's end (a 2026-07-28 retry, or an in-call wait)."""
HUMAN = "%(asctime)s %(levelname)s %(name)s: %(message)s"

logger = logging.getLogger("handoff.lifecycle")


def lifecycle(entry: Entry) -> None:
    """Log one lifecycle step: its audit line's fields, and a short text of them."""
    if not logger.isEnabledFor(logging.INFO):
        return
    record = f" record {entry.record_id[:8]}…" if entry.record_id else ""
    who = f" of {entry.principal}" if entry.principal else ""
    client = f" (client {entry.client_id})" if entry.client_id else ""
    remote = f" from {entry.remote}" if entry.remote else ""
    detail = f": {entry.detail}" if entry.detail else ""
    logger.info(
        "%s%s%s%s%s%s", entry.event, record, who, client, remote, detail, extra={"handoff": entry.as_dict()}
    )


class JsonLines(logging.Formatter):
    """One JSON object per line: a lifecycle step's audit fields, or any other line's message; of an
    exception only its type (its message and traceback may quote what a person typed)."""

    def format(self, record: logging.LogRecord) -> str:
        line: dict[str, Any] = {
            "at": record.created,
            "level": record.levelname.lower(),
            "logger": record.name,
        }
        fields = getattr(record, "handoff", None)
        if isinstance(fields, dict):
            line.update(fields)
        else:
            line["message"] = record.getMessage()
        if record.exc_info and record.exc_info[0] is not None:
            line["error"] = record.exc_info[0].__name__
        return json.dumps(line, sort_keys=True, ensure_ascii=False, default=str)


class _Ours(logging.StreamHandler):  # type: ignore[type-arg]
    """The stderr handler `configure` installs (and replaces when called again)."""


def configure(chosen: str | None = None) -> None:
    """Send the `handoff` loggers' lines to stderr as `chosen` says (default: $HANDOFF_LOG_FORMAT);
    nothing changes when neither says anything."""
    wanted = (chosen if chosen is not None else os.environ.get(LOG_FORMAT, "")).strip().lower()
    if not wanted:
        return
    if wanted not in ("json", "human"):
        raise ConfigError(f"{LOG_FORMAT}={wanted!r} is not a log format: say json or human")
    root = logging.getLogger("handoff")
    for handler in [h for h in root.handlers if isinstance(h, _Ours)]:
        root.removeHandler(handler)
    handler = _Ours()
    handler.setFormatter(JsonLines() if wanted == "json" else logging.Formatter(HUMAN))
    root.addHandler(handler)
    if root.level == logging.NOTSET:
        root.setLevel(logging.INFO)
    root.propagate = False  # the host's handlers would write each line a second time
