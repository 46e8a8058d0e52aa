"""The client side of URL mode elicitation: check a URL before a person is asked to open it."""

from ._urlcheck import Reason, UrlReport, Verdict, check_url

__all__ = ["Reason", "UrlReport", "Verdict", "check_url"]
