"""An attacker's look at the workstation's web layer: escaping, headers, sessions, limits.

Starlette's TestClient against the application over a real case store (as
test_security.py). Each test names what an attacker would try; a refused write must
leave the audit chain as it was.
"""

from __future__ import annotations

import dataclasses
import json
import logging
import os
import re

import pytest

from gcms.custody import CaseStore
from gcms.review import ReviewSettings, create_app
from gcms.review.security import COOKIE, MAX_BODY_BYTES, is_loopback
from gcms.review.serve import bind_warning, served_settings

from .conftest import PASSPHRASES
from .helpers import TestClient, client, csrf, sign_in

#: Closes a <script> element, opens markup with a handler, and is right-to-left text.
PAYLOAD = '</script><img src=x onerror=alert(1)>"\'&<b>اختبار</b>'


def head(recorded) -> int:
    with CaseStore(recorded.store, create=False) as store:
        return store.head()[0]


def exhibit_path(recorded) -> str:
    return f"/case/{recorded.case_id}/exhibit/{recorded.exhibit_id}"


def last_result(recorded):
    with CaseStore(recorded.store, create=False) as store:
        return store.results(recorded.case_id, recorded.exhibit_id)[-1]


def signed(recorded, user: str, web) -> dict:
    return {"key_file": str(recorded.key_file(user)), "passphrase": PASSPHRASES[user],
            "csrf_token": csrf(web)}


def assert_no_markup_of(payload_page: str) -> None:
    assert "<img src=x" not in payload_page
    assert "<b>اختبار</b>" not in payload_page
    # every <script> element of the page is one of the template's own
    for tag in re.findall(r"<script[^>]*>", payload_page):
        assert tag.startswith(('<script type="application/json"', '<script src="/static/')), tag


# -- escaping -------------------------------------------------------------------------


def test_every_template_autoescapes_and_none_marks_text_safe(recorded):
    web = client(recorded)
    templates = web.app.app.state.web.templates
    names = templates.list_templates()
    assert "exhibit.html" in names and "error.html" in names
    for name in names:
        assert templates.autoescape(name) is True, name
        source = templates.loader.get_source(templates, name)[0]
        assert "|safe" not in source.replace(" ", "") and "Markup" not in source, name
        assert "autoescape false" not in source, name


def test_reasons_comments_and_names_are_escaped_on_every_page(recorded):
    """Stored XSS: what one user types is read by another (an analyst's reason, a reviewer's
    comments, a printed name); every one is shown as text, Arabic included."""
    alice = recorded.key("alice")
    with CaseStore(recorded.store, actor="alice", create=False) as store:
        store.add_user("mallory", roles=["analyst"], printed_name=PAYLOAD, key=alice)
    analyst, reviewer = client(recorded), client(recorded)
    sign_in(analyst, "alice")
    sign_in(reviewer, "bob")
    result = last_result(recorded)
    component = result.data["components"][0]["component"]
    answer = analyst.post(f"/case/{recorded.case_id}/result/{result.result_id}/verdict",
                          data={**signed(recorded, "alice", analyst), "component": str(component),
                                "action": "accept", "reason": "reason " + PAYLOAD})
    assert answer.status_code == 303, answer.text[-300:]
    answer = reviewer.post(f"{exhibit_path(recorded)}/review",
                           data={**signed(recorded, "bob", reviewer), "outcome": "returned",
                                 "comments": "comments " + PAYLOAD})
    assert answer.status_code == 303, answer.text[-300:]
    for page in (exhibit_path(recorded), "/", "/cases"):
        text = reviewer.get(page).text
        assert_no_markup_of(text)
    text = reviewer.get(exhibit_path(recorded)).text
    escaped = PAYLOAD.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")
    assert ("comments " + escaped.replace('"', "&#34;").replace("'", "&#39;")) in text
    # a refused write echoes what was typed as text too
    refused = reviewer.post(f"{exhibit_path(recorded)}/review",
                            data={**signed(recorded, "bob", reviewer), "outcome": PAYLOAD})
    assert refused.status_code == 400 and "&lt;img src=x" in refused.text
    assert_no_markup_of(refused.text)


def test_names_in_the_chart_data_cannot_close_the_script_element(recorded, monkeypatch):
    """A substance, library or sample name that holds ``</script>`` stays inside the JSON
    the charts read, and comes back out of it unchanged."""
    from gcms.review import views

    real = views.exhibit_view
    hostile = [recorded.substance, recorded.exhibit_id]

    def poison(value):
        if isinstance(value, str):
            for name in hostile:
                value = re.sub(re.escape(name), lambda _: PAYLOAD, value, flags=re.I)
            return value
        if isinstance(value, dict):
            return {k: poison(v) for k, v in value.items()}
        if isinstance(value, list):
            return [poison(v) for v in value]
        if dataclasses.is_dataclass(value) and not isinstance(value, type):
            with_strings = {f.name: poison(getattr(value, f.name))
                            for f in dataclasses.fields(value) if f.init}
            return dataclasses.replace(value, **with_strings)
        return value

    def hostile_view(*args, **kwargs):
        view = real(*args, **kwargs)
        for f in dataclasses.fields(view):
            if f.name not in ("case_id", "record", "run"):
                setattr(view, f.name, poison(getattr(view, f.name)))
        view.library_name = PAYLOAD
        if view.chromatogram:  # a trace's name, as the legend and the hover show it
            view.chromatogram["data"][0]["name"] = PAYLOAD
        return view

    monkeypatch.setattr(views, "exhibit_view", hostile_view)
    web = client(recorded)
    sign_in(web, "bob")
    answer = web.get(exhibit_path(recorded))
    assert answer.status_code == 200, answer.text[-300:]
    assert_no_markup_of(answer.text)
    assert "&lt;img src=x" in answer.text  # the name is shown, as text
    blocks = re.findall(r'<script type="application/json" id="([^"]+)">(.*?)</script>',
                        answer.text, flags=re.S)
    assert blocks
    decoded = [json.loads(data) for _, data in blocks]
    assert PAYLOAD in set(strings(decoded))  # the chart has the name, unchanged


def strings(value):
    """Every string inside decoded JSON."""
    if isinstance(value, str):
        yield value
    elif isinstance(value, dict):
        for item in value.values():
            yield from strings(item)
    elif isinstance(value, list):
        for item in value:
            yield from strings(item)


# -- headers --------------------------------------------------------------------------


def test_security_headers_on_pages_errors_and_refusals(recorded):
    web = client(recorded)
    sign_in(web, "bob")
    answers = {"page with case data": web.get(exhibit_path(recorded)),
               "error page": web.get(f"/case/{recorded.case_id}/exhibit/NO-SUCH"),
               "not found": web.get("/no/such/page"),
               "refused": web.post("/language", data={"language": "ar"}),
               "api": web.get(f"/api/xic?case={recorded.case_id}&result=X&mz=342"),
               "signed out": client(recorded).get("/cases")}
    for what, answer in answers.items():
        policy = answer.headers["content-security-policy"]
        directives = dict(d.strip().partition(" ")[::2] for d in policy.split(";"))
        assert directives["script-src"] == "'self'", what  # no inline script, no eval
        assert directives["frame-ancestors"] == "'none'", what
        assert directives["object-src"] == "'none'" and directives["base-uri"] == "'none'"
        assert answer.headers["x-frame-options"] == "DENY", what
        assert answer.headers["x-content-type-options"] == "nosniff", what
        assert answer.headers["referrer-policy"] == "same-origin", what
        assert answer.headers["cache-control"] == "no-store", what
    assert "server" not in {k.lower() for k in answers["page with case data"].headers}


def test_error_pages_show_no_traceback_and_debug_is_off(recorded):
    web = client(recorded)
    assert web.app.app.debug is False
    sign_in(web, "bob")
    for path in ("/no/such/page", f"/case/{recorded.case_id}/exhibit/%00",
                 f"/case/{recorded.case_id}/run/..%2F..%2Fetc", "/api/xic?mz=abc"):
        answer = web.get(path)
        assert answer.status_code in (400, 403, 404), path
        for leak in ("Traceback", 'File "', "site-packages", str(recorded.store)):
            assert leak not in answer.text, (path, leak)


# -- sessions -------------------------------------------------------------------------


def test_a_planted_session_token_is_never_adopted(recorded):
    """Session fixation: a token the attacker set before sign-in is not the session."""
    web = client(recorded)
    planted = "A" * 43
    web.cookies.set(COOKIE, planted, domain="127.0.0.1")
    assert sign_in(web, "bob").status_code == 303
    token = web.cookies.get(COOKIE)
    assert token and token != planted
    assert len(token) >= 43 and re.fullmatch(r"[A-Za-z0-9_-]+", token)  # 256 random bits
    other = client(recorded)
    other.cookies.set(COOKIE, planted, domain="127.0.0.1")
    assert other.get("/cases").status_code == 303
    # signing in again drops the earlier token
    assert sign_in(web, "bob").status_code == 303
    again = client(recorded)
    again.cookies.set(COOKIE, token, domain="127.0.0.1")
    assert again.get("/cases").status_code == 303


def test_sign_out_ends_the_session_on_the_server(recorded):
    """The old token, replayed by someone who copied it, answers nothing after sign-out."""
    web = client(recorded)
    sign_in(web, "bob")
    token = web.cookies.get(COOKIE)
    assert web.post("/logout", data={"csrf_token": csrf(web)}).status_code == 303
    thief = client(recorded)
    thief.cookies.set(COOKIE, token, domain="127.0.0.1")
    assert thief.get("/cases").status_code == 303
    assert thief.get(f"/api/xic?case={recorded.case_id}&result=RS1&mz=342").status_code == 401


def test_the_csrf_token_is_bound_to_the_session(recorded):
    web, other = client(recorded), client(recorded)
    sign_in(web, "bob")
    sign_in(other, "bob")  # the same user, another session: another token
    assert csrf(web) != csrf(other)
    answer = web.post("/language", data={"language": "ar", "csrf_token": csrf(other)})
    assert answer.status_code == 403


# -- redirects --------------------------------------------------------------------------


@pytest.mark.parametrize("target", ["//evil.example/", "/\\evil.example", "/\\/evil.example",
                                    "/\t/evil.example", "/\n/evil.example",
                                    "https://evil.example/", "javascript:alert(1)"])
def test_no_redirect_leaves_the_site(recorded, target):
    """Browsers read ``/\\host`` and ``/<tab>/host`` as ``//host``: none is followed."""
    web = client(recorded)
    page = web.get("/login")
    token = re.search(r'name="signin_token" value="([^"]+)"', page.text).group(1)
    from .conftest import PASSWORDS

    answer = web.post("/login", data={"user": "bob", "password": PASSWORDS["bob"],
                                      "signin_token": token, "next": target})
    assert answer.status_code == 303 and answer.headers["location"] == "/"
    answer = web.post("/language", data={"language": "en", "next": target,
                                         "csrf_token": csrf(web)})
    assert answer.headers["location"] == "/"
    # the "back" link of an error page
    result = last_result(recorded)
    answer = web.post(f"/case/{recorded.case_id}/result/{result.result_id}/verdict",
                      data={"csrf_token": csrf(web), "back": target, "component": "0",
                            "action": "accept"})
    assert answer.status_code == 400
    assert re.search(r'id="back"', answer.text) is None or 'href="/" id="back"' in answer.text


# -- files ------------------------------------------------------------------------------


@pytest.mark.parametrize("path", ["/static/..%2Fapp.py", "/static/%2e%2e%2fsecurity.py",
                                  "/static/..%5Capp.py", "/static/app.js%00.js",
                                  "/static/..%2F..%2F..%2Fetc%2Fpasswd",
                                  "/reports/..%2FS%2Fstore.sqlite", "/reports/..%2F..%2Fx.pdf"])
def test_no_file_outside_the_static_folder_is_served(recorded, path):
    web = client(recorded)
    sign_in(web, "bob")
    answer = web.get(path)
    assert answer.status_code == 404, path
    assert "import" not in answer.text and "root:" not in answer.text


def test_a_key_file_path_cannot_read_or_show_another_file(recorded, tmp_path):
    """The key file is a path the user types and the server reads: a device, a pipe or a
    big file is never read, and no content of a file that is not a key is shown."""
    web = client(recorded)
    sign_in(web, "alice")
    result = last_result(recorded)
    path = f"/case/{recorded.case_id}/result/{result.result_id}/verdict"
    big = tmp_path / "big.key"
    with open(big, "wb") as handle:  # sparse: 200 MB read by nothing
        handle.truncate(200 * 1024 * 1024)
    secret = tmp_path / "secret.key"
    secret.write_text("root:x:0:0:the secret line\n")
    fifo = tmp_path / "pipe.key"
    os.mkfifo(fifo)
    before = head(recorded)
    for key_file, problem in ((big, "not a key file"), (fifo, "not a key file"),
                              ("/dev/zero", "not a key file"), (tmp_path, "not a key file"),
                              (tmp_path / "none.key", "cannot read the key file"),
                              (secret, "not a PEM private key")):
        answer = web.post(path, data={"csrf_token": csrf(web), "component": "0",
                                      "action": "accept", "reason": "try a file",
                                      "key_file": str(key_file), "passphrase": "p"})
        assert answer.status_code == 400, (key_file, answer.text[-300:])
        assert problem in answer.text, (key_file, answer.text[-300:])
        assert "the secret line" not in answer.text
    assert head(recorded) == before


def test_the_passphrase_is_never_shown_nor_logged(recorded, caplog):
    caplog.set_level(logging.DEBUG)
    web = client(recorded)
    sign_in(web, "alice")
    result = last_result(recorded)
    secret = "not-alice-passphrase-Zq8"
    answers = [
        web.post(f"/case/{recorded.case_id}/result/{result.result_id}/verdict",
                 data={"csrf_token": csrf(web), "component": "0", "action": "accept",
                       "reason": "wrong passphrase", "passphrase": secret,
                       "key_file": str(recorded.key_file("alice"))}),
        web.post(f"/case/{recorded.case_id}/result/{result.result_id}/verdict",
                 data={"csrf_token": csrf(web), "component": "0", "action": "accept",
                       "passphrase": secret, "key_file": str(recorded.key_file("alice"))}),
    ]
    for answer in answers:
        assert answer.status_code == 400
        assert secret not in answer.text
    assert secret not in caplog.text
    page = web.get(exhibit_path(recorded)).text
    assert 'name="passphrase" type="password"' in page and secret not in page
    assert re.search(r'name="passphrase"[^>]*value=', page) is None


# -- limits -----------------------------------------------------------------------------


def test_no_unbounded_request_body_even_before_sign_in(recorded):
    web = client(recorded)
    huge = "x" * (MAX_BODY_BYTES + 1)
    page = web.get("/login")
    token = re.search(r'name="signin_token" value="([^"]+)"', page.text).group(1)
    answer = web.post("/login", data={"user": "bob", "password": huge, "signin_token": token})
    assert answer.status_code == 413
    answer = web.post("/login", content=b"user=bob", headers={
        "content-type": "application/x-www-form-urlencoded",
        "content-length": str(10 * MAX_BODY_BYTES)})
    assert answer.status_code == 413
    sign_in(web, "alice")
    before = head(recorded)
    result = last_result(recorded)
    answer = web.post(f"/case/{recorded.case_id}/result/{result.result_id}/verdict",
                      data={"csrf_token": csrf(web), "component": "0", "action": "accept",
                            "reason": huge, **{k: v for k, v in signed(recorded, "alice", web)
                                               .items() if k != "csrf_token"}})
    assert answer.status_code == 413
    assert head(recorded) == before


def test_a_reason_or_comment_is_bounded(recorded):
    from gcms.review.app import MAX_TEXT_CHARS

    web = client(recorded)
    sign_in(web, "bob")
    result = last_result(recorded)
    before = head(recorded)
    long = "r" * (MAX_TEXT_CHARS + 1)
    answer = web.post(f"/case/{recorded.case_id}/result/{result.result_id}/verdict",
                      data={**signed(recorded, "bob", web), "component": "0",
                            "action": "accept", "reason": long})
    assert answer.status_code == 400 and "at most" in answer.text
    answer = web.post(f"{exhibit_path(recorded)}/review",
                      data={**signed(recorded, "bob", web), "outcome": "returned",
                            "comments": long})
    assert answer.status_code == 400 and "at most" in answer.text
    assert long not in answer.text  # not echoed back either
    assert head(recorded) == before


# -- hosts --------------------------------------------------------------------------------


def test_loopback_is_judged_on_the_whole_name():
    assert is_loopback("127.0.0.1") and is_loopback("127.1.2.3") and is_loopback("::1")
    assert is_loopback("[::1]") and is_loopback("localhost")
    for host in ("0.0.0.0", "localhost.evil.example", "127.0.0.1.nip.io", "::1:2", "::",
                 "192.168.1.20", ""):
        assert not is_loopback(host), host
        assert bind_warning(host) is not None, host


def test_served_on_loopback_the_host_names_are_fixed_and_elsewhere_cookies_secure():
    local = served_settings(ReviewSettings(store="S"), "127.0.0.1")
    assert set(local.allowed_hosts) == {"127.0.0.1", "localhost", "::1"}
    assert local.secure_cookies is False
    wide = served_settings(ReviewSettings(store="S"), "0.0.0.0")
    assert wide.allowed_hosts is None and wide.secure_cookies is True


def test_on_loopback_only_loopback_host_names_are_answered(recorded):
    """DNS rebinding: a page of evil.example whose name resolves to 127.0.0.1 sends
    ``Host: evil.example``; the workstation on loopback does not answer it."""
    app = create_app(ReviewSettings(store=str(recorded.store),
                                    allowed_hosts=("127.0.0.1", "localhost", "::1")))
    web = TestClient(app, base_url="http://127.0.0.1:8765", follow_redirects=False)
    assert web.get("/login").status_code == 200
    for host in ("localhost:8765", "[::1]:8765", "LOCALHOST"):
        assert web.get("/login", headers={"host": host}).status_code == 200, host
    for host in ("evil.example:8765", "evil.example", "127.0.0.1.nip.io:8765", ""):
        answer = web.get("/login", headers={"host": host})
        assert answer.status_code == 400, host
        assert "signin_token" not in answer.text


# -- review -------------------------------------------------------------------------------


def test_a_review_form_that_showed_no_versions_approves_nothing(recorded):
    """The review passes the versions shown to review_outcome; an empty list means that
    nothing was shown, so nothing is approved (not "approve whatever is there")."""
    web = client(recorded)
    sign_in(web, "bob")
    page = web.get(exhibit_path(recorded)).text
    shown = re.search(r'name="versions" value="([^"]*)"', page).group(1)
    with CaseStore(recorded.store, create=False) as store:
        results = store.results(recorded.case_id, recorded.exhibit_id)
    analysis = results[-1].analysis_id
    assert shown == ",".join(f"{r.result_id}:{r.version}" for r in results
                             if r.analysis_id == analysis)
    before = head(recorded)
    answer = web.post(f"{exhibit_path(recorded)}/review",
                      data={**signed(recorded, "bob", web), "outcome": "approved",
                            "analysis_id": analysis or "", "versions": ""})
    assert answer.status_code == 400, answer.text[-300:]
    assert head(recorded) == before
    answer = web.post(f"{exhibit_path(recorded)}/review",
                      data={**signed(recorded, "bob", web), "outcome": "approved",
                            "analysis_id": analysis or "", "versions": shown})
    assert answer.status_code == 303, answer.text[-300:]
    assert head(recorded) > before
