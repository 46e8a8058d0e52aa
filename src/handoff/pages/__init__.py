"""The out-of-band web pages."""

from ._app import build_pages
from ._flow import Flow
from ._secret import SecretFlow

__all__ = ["Flow", "SecretFlow", "build_pages"]
