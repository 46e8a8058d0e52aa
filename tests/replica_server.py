"""One replica of the demo server, as its own process: for the tests that run several behind haproxy.

    python tests/replica_server.py PORT PUBLIC_URL DATABASE_URL DATA_DIR [OIDC_ISSUER]

Every replica gets the same public URL (the load balancer's), database and data folder (so the same
dev keys). With an OIDC issuer, the calendar provider is that server (the tests' oidc-provider) instead
of the demo's own.
"""

from __future__ import annotations

import sys

import uvicorn
from _calendar import calendar_at  # the script's folder (tests/) is on the path

from handoff.demo import build_demo


def main() -> None:
    port, public_url, database_url, data_dir = int(sys.argv[1]), sys.argv[2], sys.argv[3], sys.argv[4]
    providers = [calendar_at(sys.argv[5])] if len(sys.argv) > 5 else None
    demo = build_demo(
        public_url, data_dir, database_url=database_url, providers=providers, retry_wait=25.0, ttl=120.0
    )
    uvicorn.run(demo.app, host="127.0.0.1", port=port, log_level="warning", proxy_headers=False)


if __name__ == "__main__":
    main()
