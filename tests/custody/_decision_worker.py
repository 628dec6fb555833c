"""A reviewer in its own process, for the decision load test (run as a script).

``_decision_worker.py LOCATION USER SEED_HEX RESULTS GO SECONDS OUT``: connect, write
OUT.ready, wait for the file GO, then for SECONDS accept the verdict of component 1 of
each result in RESULTS (comma-separated) in turn, as USER with the Ed25519 key of
SEED_HEX, each decision with a reason that names the user and a counter; write the
reasons recorded and each decision's latency to OUT (JSON).
"""

from __future__ import annotations

import json
import sys
import time
from pathlib import Path

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from gcms.custody import CaseStore
from gcms.custody.decisions import decide_verdict
from gcms.custody.keys import SigningKey, _raw_public


def main() -> None:
    location, user, seed, results, go, seconds, out = sys.argv[1:8]
    private = Ed25519PrivateKey.from_private_bytes(bytes.fromhex(seed))
    key = SigningKey(private, _raw_public(private.public_key()))
    results_ids = results.split(",")
    store = CaseStore(location, actor=user, create=False)
    Path(f"{out}.ready").write_text("ready")
    while not Path(go).exists():
        time.sleep(0.005)
    made, latencies = [], []
    deadline = time.monotonic() + float(seconds)
    i = 0
    while time.monotonic() < deadline:
        result_id = results_ids[i % len(results_ids)]
        reason = f"{user} decision {i}"
        started = time.monotonic()
        decide_verdict(store, "L1", result_id, 1, action="accept", reason=reason, key=key)
        latencies.append(time.monotonic() - started)
        made.append([result_id, reason])
        i += 1
    store.close()
    Path(out).write_text(json.dumps({"made": made, "latencies": latencies}))


if __name__ == "__main__":
    main()
