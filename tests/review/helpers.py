"""Clients of the workstation for the tests: Starlette's TestClient, sign-in, CSRF token."""

from __future__ import annotations

import re
import warnings

from starlette.exceptions import StarletteDeprecationWarning

from gcms.review import ReviewSettings, create_app

from .conftest import PASSWORDS, Recorded

with warnings.catch_warnings():
    # starlette 1.x warns, once at import, that its TestClient will move from httpx to
    # httpx2 (not installed here); only that warning, only around this import
    warnings.filterwarnings("ignore", message="Using `httpx` with `starlette.testclient`",
                            category=StarletteDeprecationWarning)
    from starlette.testclient import TestClient


def client(recorded: Recorded, *, base_url: str = "http://127.0.0.1", **settings) -> TestClient:
    app = create_app(ReviewSettings(store=str(recorded.store),
                                    keys_dir=str(recorded.folder / "keys"), **settings))
    return TestClient(app, base_url=base_url, follow_redirects=False)


def sign_in(web: TestClient, user: str, password: str | None = None):
    page = web.get("/login")
    token = re.search(r'name="signin_token" value="([^"]+)"', page.text).group(1)
    return web.post("/login", data={"user": user, "password": password or PASSWORDS[user],
                                    "signin_token": token})


def csrf(web: TestClient) -> str:
    page = web.get("/cases")
    assert page.status_code == 200, page.text
    return re.search(r'name="csrf_token" value="([^"]+)"', page.text).group(1)
