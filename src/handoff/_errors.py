"""The exceptions handoff raises, each saying what went wrong and what to do next."""

from __future__ import annotations


class HandoffError(Exception):
    """Base class for every error handoff raises on purpose."""


class ConfigError(HandoffError):
    """The configuration cannot work; the message says which setting to change."""


class RecordNotFound(HandoffError):
    """No elicitation record has this id (it never existed, or the id was altered)."""


class TransitionRefused(HandoffError):
    """A record is no longer pending, so it cannot change state again.

    Raised when a record is completed twice, or completed after it expired, was
    declined or was cancelled: a record ends exactly once.
    """

    def __init__(self, record_id: str, status: str) -> None:
        super().__init__(f"elicitation {record_id[:8]}… is already {status}; start a new one")
        self.record_id = record_id
        self.status = status


class RateLimited(HandoffError):
    """A principal has too many pending elicitations, or starts them too fast."""

    def __init__(self, message: str, retry_after: float | None = None) -> None:
        super().__init__(message)
        self.retry_after = retry_after


class VaultError(HandoffError):
    """A stored secret cannot be read: wrong key, or the row was tampered with or moved."""


class StorageUnavailable(HandoffError):
    """The store cannot be written or read right now (disk full, read-only, unreachable).

    Nothing was changed: every state change is one transaction. Say so to the person and let them
    try again later; the operator finds the cause in the message and the log.
    """

    PERSON = "The server cannot save right now, so nothing was changed. Please try again in a few minutes."


class Busy(HandoffError):
    """This process holds as many waiting requests as its file descriptors allow.

    Nothing was lost: the browser step can still be finished, and the request tried again in a moment.
    """
