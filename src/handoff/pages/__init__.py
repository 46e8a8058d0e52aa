"""The out-of-band web pages."""

from ._app import build_pages
from ._approval import ApprovalFlow
from ._flow import Flow
from ._secret import SecretFlow

__all__ = ["ApprovalFlow", "Flow", "SecretFlow", "build_pages"]
