"""The demo server as an import string, for `uvicorn --workers N workers_app:app --app-dir tests`:
its public URL and data folder come from the environment (each worker imports this module)."""

from __future__ import annotations

import os

from handoff.demo import build_demo

app = build_demo(os.environ["HANDOFF_TEST_PUBLIC_URL"], os.environ["HANDOFF_TEST_DATA"]).app
