"""The demo: a server anyone can run, and a walkthrough that proves the whole story."""

from ._browser import ScriptedBrowser
from ._server import DEMO_USERS, Demo, build_demo, check_weather_key

__all__ = ["DEMO_USERS", "Demo", "ScriptedBrowser", "build_demo", "check_weather_key"]
