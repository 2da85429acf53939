"""Container health check: exit 0 when GET /healthz on this container answers 200.

Used by the Dockerfile's HEALTHCHECK and docker-compose.yml (python only, no curl).
`healthcheck.py PORT` checks another port (the gateway's, 8001).
"""

import os
import sys
import urllib.request

port = sys.argv[1] if len(sys.argv) > 1 else os.environ.get("PORT", "").strip() or "8000"
try:
    with urllib.request.urlopen(f"http://127.0.0.1:{port}/healthz", timeout=3) as response:
        sys.exit(0 if response.status == 200 else 1)
except Exception as exc:  # any failure means unhealthy
    print(f"healthcheck: {exc}", file=sys.stderr)
    sys.exit(1)
