"""The exceptions handoff raises, each saying what went wrong and what to do next."""

from __future__ import annotations

from collections.abc import Iterator


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


def leaves(exc: BaseException) -> Iterator[BaseException]:
    """The exceptions inside (possibly nested) exception groups, or `exc` itself."""
    if isinstance(exc, BaseExceptionGroup):
        for inner in exc.exceptions:
            yield from leaves(inner)
    else:
        yield exc


def expected(exc: BaseException) -> HandoffError | None:
    """The error handoff raised on purpose that `exc` is or carries (task groups wrap what fails
    inside them, several deep: a store that refused to start, a port taken, a server gone), else None:
    `exc` is then a fault, not a failure to explain in one line."""
    for leaf in leaves(exc):
        if isinstance(leaf, HandoffError):
            return leaf
    return None
