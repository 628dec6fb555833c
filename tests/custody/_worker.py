"""A writer in its own process, for the concurrency and crash tests (run as a script).

``_worker.py append LOCATION EXHIBIT N GO``: wait for the file GO, then record N custody
transfers of EXHIBIT of case C, back and forth between parties A and B.

``_worker.py crash LOCATION EXHIBIT N MARKER``: record N transfers, then begin one more
and, with its entry and row written but before COMMIT, write MARKER and wait to be killed.
"""

from __future__ import annotations

import sys
import time
from pathlib import Path

from gcms.custody import CaseStore


def main() -> None:
    mode, location, exhibit_id, count, signal_file = sys.argv[1:6]
    count, signal_file = int(count), Path(signal_file)
    store = CaseStore(location, actor=f"writer-{exhibit_id}", create=False)
    total = count
    if mode == "crash":
        from sqlalchemy import event

        committed = {"n": 0}

        def hold_before_commit(_conn) -> None:
            committed["n"] += 1
            if committed["n"] > count:
                signal_file.write_text("inside the transaction")
                time.sleep(600)

        event.listen(store._engine, "commit", hold_before_commit)
        total = count + 1
    else:
        while not signal_file.exists():
            time.sleep(0.001)
    for i in range(total):
        store.transfer_exhibit("C", exhibit_id, from_party="AB"[i % 2],
                               to_party="AB"[(i + 1) % 2], purpose=f"hand-over {i}")


if __name__ == "__main__":
    main()
