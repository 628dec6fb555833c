"""The workstation's HTTP surface: nothing without a session, CSRF and roles on every write.

Starlette's TestClient against the application over a real case store (a batch of the
LRCFS sequence, or the demo sequence without the shared data). Every write is checked
against the store afterwards: a refused request must leave the audit chain as it was.
"""

from __future__ import annotations

import pytest

from gcms.custody import CaseStore
from gcms.review.security import Sessions

from .conftest import PASSPHRASES
from .helpers import client, csrf, sign_in


def head(recorded) -> int:
    with CaseStore(recorded.store, create=False) as store:
        return store.head()[0]


def routes(recorded, result_id: str = "RS1") -> list[tuple[str, str]]:
    """Every route of the application with its path parameters filled in."""
    web = client(recorded)
    app = web.app.app  # the Starlette app behind the gate
    values = {"case_id": recorded.case_id, "exhibit_id": recorded.exhibit_id,
              "result_id": result_id, "name": "plotly.min.js"}
    out = []
    for route in app.routes:
        path = route.path
        for key, value in values.items():
            path = path.replace("{" + key + "}", value)
        for method in sorted(route.methods - {"HEAD"}):
            out.append((method, path))
    return out


def write_form(recorded, user: str, **fields) -> dict:
    return {"key_file": str(recorded.key_file(user)), "passphrase": PASSPHRASES[user],
            **fields}


def exhibit_result(recorded) -> str:
    with CaseStore(recorded.store, create=False) as store:
        return store.results(recorded.case_id, recorded.exhibit_id)[-1].result_id


def test_nothing_answers_without_a_session(recorded):
    web = client(recorded)
    checked = 0
    for method, path in routes(recorded):
        answer = web.request(method, path, data={"csrf_token": "x"} if method == "POST" else None)
        if path.startswith("/static/"):
            assert answer.status_code in (200, 404), path
            continue
        if path in ("/login", "/favicon.ico"):  # sign-in, and an empty favicon
            continue
        checked += 1
        if method == "GET" and not path.startswith("/api/"):
            assert answer.status_code == 303, (method, path)
            assert answer.headers["location"].startswith("/login?next=")
        else:
            assert answer.status_code == 401, (method, path)
        assert recorded.exhibit_id not in answer.text
    assert checked >= 13  # every route but sign-in and the static files
    # the chart's JavaScript is served from the installed plotly package, cached
    plotly = web.get("/static/plotly.min.js")
    assert plotly.status_code == 200 and len(plotly.content) > 1_000_000
    assert "max-age" in plotly.headers["cache-control"]


def test_sign_in_cookies_and_a_wrong_password(recorded):
    web = client(recorded)
    refused = sign_in(web, "bob", "not bob's password")
    assert refused.status_code == 401
    assert "gcms_session" not in web.cookies
    answer = sign_in(web, "bob")
    assert answer.status_code == 303 and answer.headers["location"] == "/"
    cookie = next(c for c in answer.headers.get_list("set-cookie")
                  if c.startswith("gcms_session="))
    assert "HttpOnly" in cookie and "SameSite=Strict" in cookie and "Secure" not in cookie
    page = web.get("/")
    assert page.status_code == 200 and "Bob B. Reviewer" in page.text
    policy = page.headers["content-security-policy"]
    assert "script-src 'self'" in policy and "frame-ancestors 'none'" in policy
    assert "cdn" not in page.text.lower()
    # off loopback the cookie is Secure: sent back over HTTPS only
    secure = client(recorded, secure_cookies=True, base_url="https://lab.example")
    cookie = next(c for c in sign_in(secure, "bob").headers.get_list("set-cookie")
                  if c.startswith("gcms_session="))
    assert cookie.endswith("Secure")


def test_sign_in_needs_its_form_token_and_never_redirects_off_site(recorded):
    web = client(recorded)
    web.get("/login")
    forged = web.post("/login", data={"user": "bob", "password": "bob sign-in words",
                                      "signin_token": "forged"})
    assert forged.status_code == 403
    page = web.get("/login?next=//evil.example/x")
    assert "evil.example" not in page.text
    import re

    token = re.search(r'name="signin_token" value="([^"]+)"', page.text).group(1)
    answer = web.post("/login", data={"user": "bob", "password": "bob sign-in words",
                                      "signin_token": token, "next": "https://evil.example/"})
    assert answer.headers["location"] == "/"


def test_sessions_end_when_idle_and_at_their_absolute_limit():
    now = [1000.0]
    sessions = Sessions(idle_s=60, absolute_s=300, clock=lambda: now[0])
    session = sessions.start("bob", printed_name=None, roles=("reviewer",), language="en")
    now[0] += 59
    assert sessions.get(session.token) is session
    now[0] += 61
    assert sessions.get(session.token) is None  # idle for more than a minute
    session = sessions.start("bob", printed_name=None, roles=("reviewer",), language="en")
    for _ in range(5):  # active every 50 s ...
        now[0] += 50
        assert sessions.get(session.token) is session
    now[0] += 51  # ... yet over 300 s after sign-in
    assert sessions.get(session.token) is None
    again = sessions.start("bob", printed_name=None, roles=(), language="en")
    fresh = sessions.start("bob", printed_name=None, roles=(), language="en",
                           replacing=again.token)
    assert sessions.get(again.token) is None and sessions.get(fresh.token) is fresh


def test_sign_out_ends_the_session(recorded):
    web = client(recorded)
    sign_in(web, "bob")
    token = csrf(web)
    assert web.post("/logout", data={"csrf_token": token}).status_code == 303
    assert web.get("/cases").status_code == 303
    assert web.get("/api/xic?case=C-1&result=RS1&mz=342").status_code == 401


def test_writes_without_the_csrf_token_are_refused(recorded):
    web = client(recorded)
    sign_in(web, "bob")
    before = head(recorded)
    path = f"/case/{recorded.case_id}/exhibit/{recorded.exhibit_id}/review"
    form = write_form(recorded, "bob", outcome="approved")
    assert web.post(path, data=form).status_code == 403
    assert web.post(path, data={**form, "csrf_token": "wrong"}).status_code == 403
    assert web.post(path, data=form, headers={"X-CSRF-Token": "wrong"}).status_code == 403
    # another session's token is no better
    other = client(recorded)
    sign_in(other, "carol")
    assert web.post(path, data={**form, "csrf_token": csrf(other)}).status_code == 403
    assert web.post("/language", data={"language": "ar"}).status_code == 403
    assert head(recorded) == before


WRITES = {  # route -> (users lacking the role, form fields)
    "verdict": (("carol",), {"component": "0", "action": "accept", "reason": "checked"}),
    "reintegrate": (("carol",), {"component": "0", "start_min": "5.1", "end_min": "5.3",
                                 "reason": "tail"}),
    "review": (("alice", "carol"), {"outcome": "approved"}),
    "sign-reviewed": (("alice", "carol"), {"meaning": "reviewed"}),
    "sign-approved": (("alice", "bob"), {"meaning": "approved"}),
    "sign-authored": (("bob", "carol"), {"meaning": "authored"}),
}


def _write_path(recorded, name: str, result_id: str) -> str:
    if name == "review":
        return f"/case/{recorded.case_id}/exhibit/{recorded.exhibit_id}/review"
    action = "sign" if name.startswith("sign") else name
    return f"/case/{recorded.case_id}/result/{result_id}/{action}"


@pytest.mark.parametrize("name", sorted(WRITES))
def test_every_write_checks_the_roles(recorded, name):
    result_id = exhibit_result(recorded)
    lacking, fields = WRITES[name]
    if name == "sign-approved":  # alice is an admin: admins may approve; only bob lacks it
        lacking = ("bob",)
    before = head(recorded)
    for user in lacking:
        web = client(recorded)
        sign_in(web, user)
        answer = web.post(_write_path(recorded, name, result_id),
                          data={**write_form(recorded, user, **fields), "csrf_token": csrf(web)})
        assert answer.status_code == 403, (user, name, answer.text[:300])
        assert "refused" in answer.text
    assert head(recorded) == before


def test_a_reviewer_cannot_approve_their_own_work_through_the_api(recorded):
    alice = recorded.key("alice")
    with CaseStore(recorded.store, actor="alice", create=False) as store:
        store.set_roles("alice", ["admin", "analyst", "reviewer"],
                        reason="also reviews in this test", key=alice)
    before = head(recorded)
    web = client(recorded)
    sign_in(web, "alice")
    token = csrf(web)
    answer = web.post(_write_path(recorded, "review", ""),
                      data={**write_form(recorded, "alice", outcome="approved"),
                            "csrf_token": token})
    assert answer.status_code == 403 and "refused" in answer.text
    signed = web.post(_write_path(recorded, "sign-reviewed", exhibit_result(recorded)),
                      data={**write_form(recorded, "alice", meaning="reviewed"),
                            "csrf_token": token})
    assert signed.status_code == 403 and "refused" in signed.text
    assert head(recorded) == before
    with CaseStore(recorded.store, create=False) as store:
        assert store.reviews(recorded.case_id) == []


def test_a_wrong_passphrase_signs_nothing(recorded):
    web = client(recorded)
    sign_in(web, "bob")
    before = head(recorded)
    answer = web.post(_write_path(recorded, "review", ""),
                      data={**write_form(recorded, "bob", outcome="approved"),
                            "passphrase": "not it", "csrf_token": csrf(web)})
    assert answer.status_code in (400, 403) and "passphrase" in answer.text
    assert head(recorded) == before


def test_a_review_through_the_api_is_recorded_signed_and_verifies(recorded):
    web = client(recorded)
    sign_in(web, "bob")
    token = csrf(web)
    back = f"/case/{recorded.case_id}/exhibit/{recorded.exhibit_id}"
    missing = web.post(_write_path(recorded, "review", ""),
                       data={**write_form(recorded, "bob", outcome="returned"),
                             "csrf_token": token, "back": back})
    assert missing.status_code in (400, 403)  # returning needs comments
    answer = web.post(_write_path(recorded, "review", ""),
                      data={**write_form(recorded, "bob", outcome="approved"),
                            "csrf_token": token, "back": back})
    assert answer.status_code == 303 and answer.headers["location"] == back
    page = web.get(back)
    assert "approved" in page.text and "Bob B. Reviewer" in page.text
    with CaseStore(recorded.store, create=False) as store:
        reviews = store.reviews(recorded.case_id)
        assert [(r.reviewer, r.outcome) for r in reviews] == [("bob", "agreed")]
        signatures = store.signatures(recorded.case_id)
        assert [(s.signer, s.meaning) for s in signatures] == [("bob", "reviewed")]
        assert store.verify().ok


def test_repeated_wrong_passwords_lock_the_user_name_for_a_while(recorded):
    from gcms.review import ReviewSettings, create_app
    from gcms.review.security import SignInThrottle

    from .helpers import TestClient

    now = [0.0]
    throttle = SignInThrottle(limit=3, lockout_s=600, clock=lambda: now[0])
    app = create_app(ReviewSettings(store=str(recorded.store)), throttle=throttle)
    web = TestClient(app, base_url="http://127.0.0.1", follow_redirects=False)
    for _ in range(3):
        assert sign_in(web, "bob", "wrong words here").status_code == 401
    locked = sign_in(web, "bob")  # the right password, but too soon
    assert locked.status_code == 401 and "Too many failed sign-ins" in locked.text
    assert sign_in(web, "carol").status_code == 303  # other users are not affected
    now[0] += 601
    assert sign_in(web, "bob").status_code == 303


def test_a_write_from_another_origin_is_refused_even_with_the_token(recorded):
    web = client(recorded)
    sign_in(web, "bob")
    token = csrf(web)
    other = {"Origin": "http://evil.example"}
    answer = web.post("/language", data={"csrf_token": token, "language": "ar"},
                      headers=other)
    assert answer.status_code == 403
    same = web.post("/language", data={"csrf_token": token, "language": "ar"},
                    headers={"Origin": "http://127.0.0.1"})
    assert same.status_code == 303
    page = web.get("/login")
    import re

    signin = re.search(r'name="signin_token" value="([^"]+)"', page.text).group(1)
    assert web.post("/login", data={"user": "bob", "password": "bob sign-in words",
                                    "signin_token": signin}, headers=other).status_code == 403


def test_parallel_guesses_cannot_all_pass_before_the_first_ones_fail():
    # An attempt counts as failed from its start: eleven guesses started together (none
    # finished) leave only the first ten through, whatever their password turns out to be.
    from gcms.review.security import SignInThrottle

    throttle = SignInThrottle(limit=10, lockout_s=600, clock=lambda: 0.0)
    started = [throttle.attempt("bob") for _ in range(11)]
    assert started == [True] * 10 + [False]
    throttle.succeeded("bob")  # one of them had the right password
    assert throttle.attempt("bob")


def test_made_up_user_names_do_not_grow_the_throttle_without_bound():
    from gcms.review.security import SignInThrottle

    now = [0.0]
    throttle = SignInThrottle(limit=3, lockout_s=600, clock=lambda: now[0], max_names=50)
    for i in range(500):
        now[0] += 0.01
        throttle.attempt(f"nobody-{i}")
    assert len(throttle._failures) <= 50
    for _ in range(3):
        throttle.attempt("bob")
    assert not throttle.attempt("bob")  # the newest names are the ones kept
