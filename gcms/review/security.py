"""Sessions, cookies, CSRF and the gate in front of every page of the review workstation.

* **Server-side sessions** (:class:`Sessions`): the browser holds only a random token
  (256 bits, :func:`secrets.token_urlsafe`); who is signed in, their roles and the CSRF
  token stay on the server. A session ends after :data:`IDLE_TIMEOUT_S` without a request
  or :data:`ABSOLUTE_TIMEOUT_S` after sign-in, whichever comes first (NIST SP 800-63B
  §4.2.3, AAL2: re-authentication at least every 12 hours and after 30 minutes of
  inactivity; OWASP Session Management Cheat Sheet). Signing out or signing in again
  drops the old token (no session fixation).
* **Cookies**: ``HttpOnly`` (no script reads the token), ``SameSite=Strict`` (never sent
  with a request another site starts), ``Path=/``, and ``Secure`` when the workstation is
  not bound to the loopback interface (RFC 6265bis §4.1.2).
* **CSRF**: every request that is not ``GET``/``HEAD`` must carry the session's token, as
  the form field ``csrf_token`` or the ``X-CSRF-Token`` header, compared in constant
  time (OWASP CSRF Prevention Cheat Sheet, synchroniser token pattern). The sign-in form
  uses a pre-session token (a cookie and the same value in the form: double submit).
* **The gate** (:class:`Gate`, ASGI middleware): a request naming another host than the
  workstation's (``Host``: DNS rebinding, OWASP) is refused when the allowed names are
  known (always on loopback, :mod:`gcms.review.serve`); no request body over
  :data:`MAX_BODY_BYTES` is read, the sign-in form's included; a write whose ``Origin``
  is another site is refused; nothing but ``/static/`` and the sign-in page answers
  without a session: pages redirect to sign-in, ``/api/`` answers 401. Every response
  carries a Content-Security-Policy allowing scripts and styles from the workstation
  itself only (charts' JavaScript is served from the installed Plotly package, never a
  CDN; no inline script), ``frame-ancestors 'none'`` and ``X-Frame-Options: DENY``
  (clickjacking), ``X-Content-Type-Options: nosniff``, ``Referrer-Policy`` and
  ``Cache-Control: no-store`` (static assets excepted).

Signing keys and passphrases never enter a session: each signature asks for them.
"""

from __future__ import annotations

import hmac
import ipaddress
import secrets
import threading
import time
from collections.abc import Awaitable, Callable, MutableMapping
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import parse_qs, quote, urlsplit

__all__ = [
    "ABSOLUTE_TIMEOUT_S",
    "COOKIE",
    "IDLE_TIMEOUT_S",
    "PRELOGIN_COOKIE",
    "Gate",
    "Session",
    "Sessions",
    "SignInThrottle",
    "cookie_header",
    "host_of",
    "is_loopback",
    "tokens_equal",
]

#: A session ends after this long without a request (NIST SP 800-63B §4.2.3: 30 min).
IDLE_TIMEOUT_S = 30 * 60
#: A session ends this long after sign-in whatever happens (NIST SP 800-63B §4.2.3: 12 h).
ABSOLUTE_TIMEOUT_S = 12 * 3600
#: The session cookie's name.
COOKIE = "gcms_session"
#: The sign-in form's double-submit cookie.
PRELOGIN_COOKIE = "gcms_signin"
#: Largest request body accepted (forms only: no uploads), bytes.
MAX_BODY_BYTES = 1 << 20

_SAFE_METHODS = frozenset({"GET", "HEAD"})
#: ``Host`` names a workstation on the loopback interface answers to (DNS rebinding:
#: a page of another site whose name resolves to 127.0.0.1 sends its own name).
LOOPBACK_HOSTS = ("127.0.0.1", "localhost", "::1")

#: Sent with every response: scripts and styles only from the workstation itself, no
#: inline script (the charts' data travel in ``<script type="application/json">``, which
#: is never run). Styles keep 'unsafe-inline': Plotly (3.8) injects ``<style>`` elements
#: for its mode bar and hover labels; in Chromium without it those are blocked and the
#: mode bar is drawn unstyled over the chart. Their two SHA-256 hashes would do instead,
#: but pin one Plotly build. No page of ours has inline style, and every text is escaped,
#: so no one else's style can be injected (W3C CSP Level 3 §6.1.3 script-src/style-src).
SECURITY_HEADERS: tuple[tuple[bytes, bytes], ...] = (
    (b"content-security-policy",
     b"default-src 'self'; script-src 'self'; style-src 'self' 'unsafe-inline'; "
     b"img-src 'self' data:; connect-src 'self'; frame-ancestors 'none'; "
     b"form-action 'self'; base-uri 'none'; object-src 'none'"),
    (b"x-frame-options", b"DENY"),
    (b"x-content-type-options", b"nosniff"),
    (b"referrer-policy", b"same-origin"),  # so that forms send their Origin (not "null")
)


def is_loopback(host: str) -> bool:
    """Whether ``host`` names the loopback interface (127.0.0.0/8, ::1, localhost).

    The whole name or address is judged, not its first characters: ``localhost.example``
    or ``::1:2`` are not this computer.
    """
    host = host.strip().strip("[]")
    if host.casefold() == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def host_of(header: str) -> str:
    """The host part of a ``Host`` header (``name:port``, ``[v6]:port``), lower case."""
    header = header.strip().lower()
    if header.startswith("["):
        return header[1:].partition("]")[0]
    if header.count(":") == 1:
        return header.partition(":")[0]
    return header


def tokens_equal(given: str | None, expected: str) -> bool:
    """Constant-time comparison of a presented token with the expected one."""
    return bool(given) and hmac.compare_digest(str(given).encode(), expected.encode())


def cookie_header(name: str, value: str, *, secure: bool, max_age: int | None = None) -> str:
    """A ``Set-Cookie`` value: HttpOnly, SameSite=Strict, Path=/, Secure when asked."""
    parts = [f"{name}={value}", "Path=/", "HttpOnly", "SameSite=Strict"]
    if max_age is not None:
        parts.append(f"Max-Age={max_age}")
    if secure:
        parts.append("Secure")
    return "; ".join(parts)


@dataclass
class Session:
    """One signed-in user: who, their roles, the CSRF token, the interface language."""

    token: str
    user_id: str
    printed_name: str | None
    roles: tuple[str, ...]
    csrf: str
    language: str
    started: float
    seen: float
    flashes: list[tuple[str, str]] = field(default_factory=list)

    def has_role(self, *roles: str) -> bool:
        """Whether the user holds one of ``roles`` (as the store stated at sign-in)."""
        return any(role in self.roles for role in roles)


class Sessions:
    """Server-side sessions in this process's memory (a restart signs everyone out).

    Parameters
    ----------
    idle_s, absolute_s
        Idle and absolute lifetimes, seconds (defaults: :data:`IDLE_TIMEOUT_S`,
        :data:`ABSOLUTE_TIMEOUT_S`).
    clock
        Seconds now (``time.monotonic``): tests pass their own to age a session.
    """

    def __init__(self, *, idle_s: float = IDLE_TIMEOUT_S,
                 absolute_s: float = ABSOLUTE_TIMEOUT_S,
                 clock: Callable[[], float] = time.monotonic) -> None:
        self.idle_s, self.absolute_s, self.clock = idle_s, absolute_s, clock
        self._sessions: dict[str, Session] = {}
        self._lock = threading.Lock()

    def start(self, user_id: str, *, printed_name: str | None, roles: tuple[str, ...],
              language: str, replacing: str | None = None) -> Session:
        """A new session for a user who just proved who they are (drops ``replacing``)."""
        now = self.clock()
        session = Session(token=secrets.token_urlsafe(32), user_id=user_id,
                          printed_name=printed_name, roles=tuple(roles),
                          csrf=secrets.token_urlsafe(32), language=language,
                          started=now, seen=now)
        with self._lock:
            if replacing:
                self._sessions.pop(replacing, None)
            self._expire(now)
            self._sessions[session.token] = session
        return session

    def get(self, token: str | None) -> Session | None:
        """The live session of ``token`` (its idle clock restarted), or None."""
        if not token:
            return None
        now = self.clock()
        with self._lock:
            session = self._sessions.get(token)
            if session is None:
                return None
            if self._expired(session, now):
                del self._sessions[token]
                return None
            session.seen = now
            return session

    def end(self, token: str | None) -> None:
        """Sign out: the token answers nothing after this."""
        with self._lock:
            self._sessions.pop(token or "", None)

    def __len__(self) -> int:
        with self._lock:
            return len(self._sessions)

    def _expired(self, session: Session, now: float) -> bool:
        return now - session.seen > self.idle_s or now - session.started > self.absolute_s

    def _expire(self, now: float) -> None:
        for token in [t for t, s in self._sessions.items() if self._expired(s, now)]:
            del self._sessions[token]


#: Failed sign-ins of one user name after which it is refused for :data:`LOCKOUT_S`
#: (NIST SP 800-63B §5.2.2 asks for a limit on consecutive failed attempts, at most 100).
MAX_FAILED_SIGN_INS = 10
#: How long a user name stays refused after :data:`MAX_FAILED_SIGN_INS` failures (s).
LOCKOUT_S = 15 * 60


class SignInThrottle:
    """Counts failed sign-ins per user name; refuses the name for a while after too many.

    Counted by name, not by address, so that guessing one user's password from many
    addresses is slowed as much as from one. An attempt counts as failed from the moment
    it starts (:meth:`attempt`) until it succeeds: parallel guesses cannot all pass the
    check while the slow password hash of the first ones is still being computed. At most
    ``max_names`` names are tracked (names with no recent failure are forgotten first),
    so a spray of made-up names cannot grow the table without bound.
    """

    def __init__(self, *, limit: int = MAX_FAILED_SIGN_INS, lockout_s: float = LOCKOUT_S,
                 clock: Callable[[], float] = time.monotonic,
                 max_names: int = 100_000) -> None:
        self.limit, self.lockout_s, self.clock = limit, lockout_s, clock
        self.max_names = max_names
        self._failures: dict[str, list[float]] = {}
        self._lock = threading.Lock()

    def _recent(self, key: str, now: float) -> list[float]:
        return [t for t in self._failures.get(key, ()) if now - t < self.lockout_s]

    def blocked(self, user_id: str) -> bool:
        """Whether ``user_id`` is refused now (too many recent failures)."""
        now = self.clock()
        key = user_id.casefold()
        with self._lock:
            recent = self._recent(key, now)
            if recent:
                self._failures[key] = recent
            else:
                self._failures.pop(key, None)
            return len(recent) >= self.limit

    def attempt(self, user_id: str) -> bool:
        """Start one sign-in of ``user_id``: False when refused now, else counted as failed.

        The caller calls :meth:`succeeded` when the password was right (which clears the
        count); a wrong password needs nothing more.
        """
        now = self.clock()
        key = user_id.casefold()
        with self._lock:
            recent = self._recent(key, now)
            if len(recent) >= self.limit:
                self._failures[key] = recent
                return False
            recent.append(now)
            self._failures[key] = recent
            if len(self._failures) > self.max_names:
                self._forget(now)
            return True

    def failed(self, user_id: str) -> None:
        """Count one failed sign-in of ``user_id``."""
        now = self.clock()
        with self._lock:
            self._failures.setdefault(user_id.casefold(), []).append(now)
            if len(self._failures) > self.max_names:
                self._forget(now)

    def succeeded(self, user_id: str) -> None:
        """Forget ``user_id``'s failures."""
        with self._lock:
            self._failures.pop(user_id.casefold(), None)

    def _forget(self, now: float) -> None:
        # names without a recent failure first; then the names whose last failure is oldest
        for key in [k for k, times in self._failures.items()
                    if not times or now - times[-1] >= self.lockout_s]:
            del self._failures[key]
        excess = len(self._failures) - self.max_names
        if excess > 0:
            for key in sorted(self._failures, key=lambda k: self._failures[k][-1])[:excess]:
                del self._failures[key]


Scope = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[MutableMapping[str, Any]]]
Send = Callable[[MutableMapping[str, Any]], Awaitable[None]]


class Gate:
    """ASGI middleware: session required, CSRF on every write, security headers.

    Puts the :class:`Session` (or None) in ``scope["state"]["session"]``. Paths under
    ``open_prefixes`` (static assets) and ``open_paths`` (sign-in) pass without a
    session; every other request without one is refused: ``/api/`` with 401, a page with
    a redirect to the sign-in page. A request that is not GET/HEAD without the session's
    CSRF token gets 403, before any handler sees it.
    """

    def __init__(self, app: Callable, sessions: Sessions, *,
                 open_paths: tuple[str, ...] = ("/login",),
                 open_prefixes: tuple[str, ...] = ("/static/",),
                 allowed_hosts: tuple[str, ...] | None = None) -> None:
        self.app, self.sessions = app, sessions
        self.open_paths, self.open_prefixes = open_paths, open_prefixes
        self.allowed_hosts = (None if allowed_hosts is None
                              else frozenset(host_of(h) for h in allowed_hosts))

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        """Gate one request (see the class docstring)."""
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        send = _with_headers(send)
        path: str = scope["path"]
        method: str = scope["method"]
        if (self.allowed_hosts is not None
                and host_of(_header(scope, b"host") or "") not in self.allowed_hosts):
            await _plain(send, 400, "this workstation does not answer to that host name")
            return
        session = self.sessions.get(_cookie(scope, COOKIE))
        scope.setdefault("state", {})["session"] = session
        if path.startswith(self.open_prefixes):
            if method not in _SAFE_METHODS:
                await _plain(send, 405, "method not allowed")
                return
            await self.app(scope, receive, send)
            return
        if method not in _SAFE_METHODS and not _same_origin(scope):
            await _plain(send, 403, "cross-site request refused")
            return
        body = None
        if method not in _SAFE_METHODS:  # the sign-in form too: no unbounded body
            body = await _body(scope, receive)
            if body is None:
                await _plain(send, 413, "request too large")
                return
            receive = _replay(body)
        if path in self.open_paths:
            await self.app(scope, receive, send)
            return
        if session is None:
            if path.startswith("/api/") or method not in _SAFE_METHODS:
                await _plain(send, 401, "sign in first")
            else:
                target = quote(path + ("?" + scope["query_string"].decode("latin-1")
                                       if scope.get("query_string") else ""), safe="")
                await _redirect(send, f"/login?next={target}")
            return
        if body is not None and not tokens_equal(_csrf_of(scope, body), session.csrf):
            await _plain(send, 403, "CSRF token missing or wrong: reload the page")
            return
        await self.app(scope, receive, send)


def _cookie(scope: Scope, name: str) -> str | None:
    for key, value in scope.get("headers", ()):
        if key == b"cookie":
            for part in value.decode("latin-1").split(";"):
                k, _, v = part.strip().partition("=")
                if k == name:
                    return v
    return None


def _header(scope: Scope, name: bytes) -> str | None:
    for key, value in scope.get("headers", ()):
        if key == name:
            return value.decode("latin-1")
    return None


def _same_origin(scope: Scope) -> bool:
    """A write's ``Origin`` (sent by browsers), when present, must be this host (OWASP)."""
    origin = _header(scope, b"origin")
    if origin is None:
        return True
    host = _header(scope, b"host") or ""
    return urlsplit(origin).netloc == host


def _csrf_of(scope: Scope, body: bytes) -> str | None:
    header = _header(scope, b"x-csrf-token")
    if header:
        return header
    kind = (_header(scope, b"content-type") or "").split(";")[0].strip().lower()
    if kind == "application/x-www-form-urlencoded":
        values = parse_qs(body.decode("utf-8", "replace")).get("csrf_token")
        return values[0] if values else None
    return None  # multipart or JSON writes must send the header


async def _body(scope: Scope, receive: Receive) -> bytes | None:
    """The whole request body, or None when it is (or says it is) over the limit."""
    declared = _header(scope, b"content-length")
    if declared is not None and (not declared.strip().isdigit()
                                 or int(declared) > MAX_BODY_BYTES):
        return None
    chunks, size = [], 0
    while True:
        message = await receive()
        if message["type"] == "http.disconnect":
            break
        chunk = message.get("body", b"")
        size += len(chunk)
        if size > MAX_BODY_BYTES:
            return None
        chunks.append(chunk)
        if not message.get("more_body"):
            break
    return b"".join(chunks)


def _replay(body: bytes) -> Receive:
    sent = False

    async def receive() -> MutableMapping[str, Any]:
        nonlocal sent
        if sent:
            return {"type": "http.disconnect"}
        sent = True
        return {"type": "http.request", "body": body, "more_body": False}

    return receive


def _with_headers(send: Send) -> Send:
    async def wrapped(message: MutableMapping[str, Any]) -> None:
        if message["type"] == "http.response.start":
            headers = list(message.get("headers", []))
            present = {k.lower() for k, _ in headers}
            headers += [(k, v) for k, v in SECURITY_HEADERS if k not in present]
            if b"cache-control" not in present:
                headers.append((b"cache-control", b"no-store"))
            message["headers"] = headers
        await send(message)

    return wrapped


async def _plain(send: Send, status: int, text: str) -> None:
    body = text.encode()
    await send({"type": "http.response.start", "status": status,
                "headers": [(b"content-type", b"text/plain; charset=utf-8"),
                            (b"content-length", str(len(body)).encode())]})
    await send({"type": "http.response.body", "body": body})


async def _redirect(send: Send, location: str) -> None:
    await send({"type": "http.response.start", "status": 303,
                "headers": [(b"location", location.encode("latin-1")),
                            (b"content-length", b"0")]})
    await send({"type": "http.response.body", "body": b""})
