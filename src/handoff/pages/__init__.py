"""The out-of-band web pages."""

from ._app import build_pages
from ._approval import ApprovalFlow
from ._connect import ConnectFlow, OAuthStates
from ._flow import Flow
from ._secret import SecretFlow

__all__ = ["ApprovalFlow", "ConnectFlow", "Flow", "OAuthStates", "SecretFlow", "build_pages"]
