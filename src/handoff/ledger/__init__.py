"""The elicitation ledger: records, their state machine, and where they are kept."""

from ._memory import MemoryLedger
from ._record import FINAL_STATUSES, Draft, Ledger, Limits, Record, Status, new_record_id
from ._sql import SqlLedger

__all__ = [
    "FINAL_STATUSES",
    "Draft",
    "Ledger",
    "Limits",
    "MemoryLedger",
    "Record",
    "SqlLedger",
    "Status",
    "new_record_id",
]
