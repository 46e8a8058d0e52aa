"""`handoff check`: conformance checks of URL mode elicitation, for MCP servers and for MCP clients."""

from ._report import Level, Outcome, Report, Requirement, Result

__all__ = ["Level", "Outcome", "Report", "Requirement", "Result"]
