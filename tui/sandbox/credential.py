"""The sandbox's exec credential plugin, run by kubectl and the cockpit as EKS's
``aws eks get-token`` is: ``python -m tui.sandbox.credential CONTROL TTL [CLAIM]`` asks the
sandbox for a token the API accepts for TTL seconds and prints an ExecCredential whose
``expirationTimestamp`` is CLAIM seconds away (TTL when not given). Standard library
only: a plugin runs on every token refresh and must start fast."""

from __future__ import annotations

import json
import os
import sys
import time
import urllib.request
from datetime import UTC, datetime


def main(argv: list[str]) -> int:
    if len(argv) not in (2, 3):
        print("usage: python -m tui.sandbox.credential CONTROL_URL TTL [CLAIM]", file=sys.stderr)
        return 2
    control, ttl = argv[0], float(argv[1])
    claim = float(argv[2]) if len(argv) == 3 else ttl
    request = urllib.request.Request(
        control.rstrip("/") + "/credentials",
        data=json.dumps({"ttl": ttl}).encode(),
        headers={"Content-Type": "application/json"},
        method="POST",
    )
    try:
        with urllib.request.urlopen(request, timeout=10) as answer:
            issued = json.load(answer)
    except OSError as error:
        print(f"sandbox credential: cannot reach {control}: {error}", file=sys.stderr)
        return 1
    info = json.loads(os.environ.get("KUBERNETES_EXEC_INFO") or "{}")
    expires = datetime.fromtimestamp(time.time() + claim, UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
    credential = {
        "apiVersion": info.get("apiVersion") or "client.authentication.k8s.io/v1",
        "kind": "ExecCredential",
        "status": {"token": issued["token"], "expirationTimestamp": expires},
    }
    print(json.dumps(credential))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
