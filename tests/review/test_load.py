"""A bounded load test (local only): concurrent reviewers deciding on one PostgreSQL store.

Twenty reviewers, each signed in through the workstation over HTTP (uvicorn on a loopback
port, one client per reviewer in its own thread), accept the verdict of a component of
the same result again and again for ``GCMS_REVIEW_LOAD_S`` seconds (60 by default), each
decision signed with the reviewer's key. Every decision the workstation answered as made
must be in the store (a new result version carrying it), none twice, and the chain must
verify afterwards.
"""

from __future__ import annotations

import os
import threading
import time

import pytest

from gcms.custody import CaseStore
from tests.custody.conftest import postgres_server  # noqa: F401 (the fixture)

from .conftest import make_recorded
from .test_browser import _free_port

REVIEWERS = tuple(f"rev{i:02d}" for i in range(1, 21))
DURATION_S = float(os.environ.get("GCMS_REVIEW_LOAD_S", "60"))


@pytest.mark.slow
def test_twenty_reviewers_lose_no_decision_and_break_no_chain(postgres_server,  # noqa: F811
                                                              tmp_path):
    import httpx
    import uvicorn

    from gcms.custody.decisions import decisions_for
    from gcms.review import ReviewSettings, create_app

    location = postgres_server.new_database()
    recorded = make_recorded(tmp_path, location, reviewers=REVIEWERS)
    with CaseStore(location, create=False) as store:
        result = store.results(recorded.case_id, recorded.exhibit_id)[-1]
    component = result.data["components"][0]["component"]
    app = create_app(ReviewSettings(store=location))
    port = _free_port()
    server = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=port,
                                           log_level="warning"))
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    while not server.started:
        time.sleep(0.05)
    base = f"http://127.0.0.1:{port}"
    made: dict[str, list[str]] = {user: [] for user in REVIEWERS}
    refused: dict[str, list[str]] = {user: [] for user in REVIEWERS}
    problems: list[str] = []
    stop = time.monotonic() + DURATION_S

    def reviewer(user: str) -> None:
        import re

        with httpx.Client(base_url=base, timeout=120, follow_redirects=False) as web:
            page = web.get("/login")
            token = re.search(r'name="signin_token" value="([^"]+)"', page.text).group(1)
            answer = web.post("/login", data={"user": user, "password": f"{user} words here",
                                              "signin_token": token})
            if answer.status_code != 303:
                problems.append(f"{user}: sign-in {answer.status_code}")
                return
            csrf = re.search(r'name="csrf_token" value="([^"]+)"',
                             web.get("/cases").text).group(1)
            n = 0
            while time.monotonic() < stop:
                n += 1
                reason = f"load test: {user} decision {n}"
                answer = web.post(
                    f"/case/{recorded.case_id}/result/{result.result_id}/verdict",
                    data={"csrf_token": csrf, "component": str(component),
                          "action": "accept", "reason": reason,
                          "key_file": str(recorded.folder / "keys" / f"{user}.key"),
                          "passphrase": f"{user} words here"})
                (made if answer.status_code == 303 else refused)[user].append(reason)

    threads = [threading.Thread(target=reviewer, args=(u,)) for u in REVIEWERS]
    for t in threads:
        t.start()
    for t in threads:
        t.join(DURATION_S + 300)
    server.should_exit = True
    thread.join(30)
    assert not problems, problems
    answered = [reason for reasons in made.values() for reason in reasons]
    assert len(answered) >= len(REVIEWERS)  # every reviewer got decisions through
    with CaseStore(location, create=False) as store:
        recorded_reasons = [d.reason for d in decisions_for(store, recorded.case_id,
                                                            recorded.exhibit_id)
                            if d.kind == "verdict"]
        assert sorted(recorded_reasons) == sorted(answered)  # none lost, none twice
        now = store.results(recorded.case_id, recorded.exhibit_id)[-1]
        assert now.version == 1 + len(answered)
        report = store.verify()
        assert report.ok, report
    refusals = sum(len(r) for r in refused.values())
    assert refusals == 0, {u: r[:2] for u, r in refused.items() if r}
    print(f"\n{len(REVIEWERS)} reviewers, {DURATION_S:.0f} s: {len(answered)} decisions "  # noqa: T201
          f"recorded, {refusals} refused, chain verified")
