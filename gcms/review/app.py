"""The review workstation's ASGI application (Starlette, Jinja2 templates, Plotly charts).

:func:`create_app` builds it over one case store; ``gcms review`` serves it with uvicorn.
Every route is a thin call into ``gcms``: the store (reading, signatures, reviews), the
custody decisions and queues, the report issuing code. Who may do what is the store's
rule (:mod:`gcms.custody.rules`), checked again by the store on every write; the routes
check the user's roles first only to refuse early with a clear page.

Routes (all but ``/login`` and ``/static/`` need a session; every write needs the CSRF
token, :mod:`gcms.review.security`):

========================================  ==========================================
``GET /``                                  the user's work queue (with re-screening findings)
``GET /cases``                             cases and exhibits in the store
``GET /case/{case}/exhibit/{exhibit}``     exhibit and run view (``?result=&component=``)
``GET /case/{case}/run/{result}``          one run of the sequence (blank, standard, ladder)
``GET /api/xic``                           extracted-ion traces (``case, result, mz``)
``POST /case/{case}/result/{id}/verdict``  accept / reject / override a verdict (signed)
``POST /case/{case}/result/{id}/reintegrate`` move a peak's integration (signed)
``POST /case/{case}/exhibit/{id}/review``  review outcome: approved / returned (signed)
``POST /case/{case}/result/{id}/sign``     sign the result (authored/reviewed/approved)
``POST /case/{case}/exhibit/{id}/report``  issue the report (PDF, EN/AR)
``GET /reports/{file}``                    an issued report's file
``GET /qa``                                QA dashboard per instrument
``POST /language``                         the interface language of this session
========================================  ==========================================
"""

from __future__ import annotations

import contextlib
import json
import os
import re
import secrets
import threading
from collections.abc import AsyncIterator, Callable, Sequence
from dataclasses import dataclass
from importlib import resources
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from gcms.errors import CustodyError, GcmsError
from gcms.review.i18n import DIRECTION, LANGUAGES, recorded_word, substance_name, translate
from gcms.review.security import (
    COOKIE,
    PRELOGIN_COOKIE,
    Gate,
    Session,
    Sessions,
    SignInThrottle,
    cookie_header,
    tokens_equal,
)

__all__ = ["ReviewSettings", "create_app", "plotly_js_path"]

#: Signature meanings a user may choose, by the roles that allow them
#: (:mod:`gcms.custody.rules`: analyst authors, reviewer reviews, QA or admin approves).
SIGNING_ROLES: dict[str, tuple[str, ...]] = {
    "authored": ("analyst",), "reviewed": ("reviewer",), "approved": ("qa", "admin")}
#: Roles that may decide on a verdict or re-integrate (the store's rules decide the rest).
DECIDING_ROLES = ("analyst", "reviewer")
#: Roles that may issue a report from the screen (the lab policy decides issued or draft).
ISSUING_ROLES = ("analyst", "reviewer", "qa", "admin")
#: Roles whose work queue lists the re-screening findings (leads to review, issue 17).
RESCREEN_ROLES = ("reviewer", "qa", "admin")
_REPORT_NAME = re.compile(r"^[A-Za-z0-9._-]+\.pdf$")
#: Largest key file the workstation reads (``gcms key new`` writes about 300 bytes): a
#: path typed into a signing form must not make the server read a device or a huge file.
MAX_KEY_FILE_BYTES = 64 * 1024
#: Longest reason or review comment accepted from a form, characters: each is kept in the
#: audit chain and shown on every later page of the exhibit (the request itself is bounded
#: by :data:`gcms.review.security.MAX_BODY_BYTES`).
MAX_TEXT_CHARS = 10_000


def plotly_js_path() -> Path:
    """``plotly.min.js`` of the installed ``plotly`` package (never fetched from a CDN)."""
    import importlib.util

    spec = importlib.util.find_spec("plotly")  # located, not imported (a heavy import)
    if spec is None or spec.origin is None:
        raise GcmsError("the review workstation draws its charts with Plotly, a dependency "
                        "of gcms that is not installed here: pip install plotly")
    return Path(spec.origin).parent / "package_data" / "plotly.min.js"


@dataclass(frozen=True)
class ReviewSettings:
    """How the workstation runs over its store.

    Parameters
    ----------
    store
        Case store folder or PostgreSQL URL.
    lab
        Laboratory profile (TOML) for reports: name, policy ``[policy] require``.
    keys_dir
        Folder of the users' key files (``USER.key``, as ``gcms key new`` writes them):
        the path a signing form proposes; each signature still asks for the passphrase.
    reports_dir
        Where issued reports are written (default: ``reports`` in the store folder, or
        the current folder for a PostgreSQL store).
    secure_cookies
        Mark cookies ``Secure`` (served over HTTPS, i.e. not on the loopback interface).
    allowed_hosts
        Host names (``Host`` header, port left out) the workstation answers to; None:
        any. :func:`gcms.review.serve.serve` sets them on loopback against DNS rebinding.
    """

    store: str
    lab: str | None = None
    keys_dir: str | None = None
    reports_dir: str | None = None
    secure_cookies: bool = False
    allowed_hosts: tuple[str, ...] | None = None

    def reports_folder(self) -> Path:
        """The folder issued reports go to (made when absent)."""
        if self.reports_dir:
            folder = Path(self.reports_dir)
        elif "://" in self.store:
            folder = Path.cwd() / "reports"
        else:
            folder = Path(self.store) / "reports"
        folder.mkdir(parents=True, exist_ok=True)
        return folder


def create_app(settings: ReviewSettings | str, *, sessions: Sessions | None = None,
               throttle: SignInThrottle | None = None) -> Any:
    """The ASGI application over one case store (see the module docstring).

    Parameters
    ----------
    settings
        :class:`ReviewSettings`, or the store location alone.
    sessions
        The session table (tests pass one with their own clock).
    throttle
        The failed sign-in counter (:class:`~gcms.review.security.SignInThrottle`).

    Raises
    ------
    CustodyError
        The store does not exist.
    """
    from starlette.applications import Starlette
    from starlette.routing import Route

    if isinstance(settings, str):
        settings = ReviewSettings(store=settings)
    from gcms.custody import CaseStore

    reader = CaseStore(settings.store, create=False)  # reading needs no enrolment
    sessions = sessions or Sessions()
    web = _Web(settings, reader, sessions, throttle or SignInThrottle())
    routes = [
        Route("/login", web.login_page, methods=["GET"]),
        Route("/login", web.login, methods=["POST"]),
        Route("/logout", web.logout, methods=["POST"]),
        Route("/language", web.language, methods=["POST"]),
        Route("/", web.queue, methods=["GET"]),
        Route("/cases", web.cases, methods=["GET"]),
        Route("/qa", web.qa, methods=["GET"]),
        Route("/case/{case_id}/exhibit/{exhibit_id}", web.exhibit, methods=["GET"]),
        Route("/case/{case_id}/run/{result_id}", web.exhibit, methods=["GET"]),
        Route("/api/xic", web.xic, methods=["GET"]),
        Route("/case/{case_id}/result/{result_id}/verdict", web.verdict, methods=["POST"]),
        Route("/case/{case_id}/result/{result_id}/reintegrate", web.reintegrate,
              methods=["POST"]),
        Route("/case/{case_id}/exhibit/{exhibit_id}/review", web.review, methods=["POST"]),
        Route("/case/{case_id}/result/{result_id}/sign", web.sign, methods=["POST"]),
        Route("/case/{case_id}/exhibit/{exhibit_id}/report", web.report, methods=["POST"]),
        Route("/reports/{name}", web.report_file, methods=["GET"]),
        Route("/static/plotly.min.js", web.plotly, methods=["GET"]),
        Route("/favicon.ico", web.favicon, methods=["GET"]),
        Route("/static/{name}", web.static, methods=["GET"]),
    ]

    @contextlib.asynccontextmanager
    async def lifespan(app: Any) -> AsyncIterator[None]:
        from starlette.concurrency import run_in_threadpool

        await run_in_threadpool(_warm_up)  # the first exhibit page then opens as fast
        yield
        web.close()

    app = Starlette(routes=routes, lifespan=lifespan)
    app.state.web = web
    return Gate(app, sessions, open_paths=("/login", "/favicon.ico"),
                allowed_hosts=settings.allowed_hosts)


class _Refused(Exception):
    def __init__(self, status: int, message: str) -> None:
        super().__init__(message)
        self.status = status


class _Web:
    """The route handlers, sharing the settings, the reading store and the sessions."""

    def __init__(self, settings: ReviewSettings, reader: Any, sessions: Sessions,
                 throttle: SignInThrottle) -> None:
        from jinja2 import Environment, PackageLoader, select_autoescape

        self.settings, self.reader, self.sessions = settings, reader, sessions
        self.throttle = throttle
        self._stores: dict[str, Any] = {}
        self._stores_lock = threading.Lock()
        self.templates = Environment(loader=PackageLoader("gcms.review", "templates"),
                                     autoescape=select_autoescape(default=True),
                                     trim_blocks=True, lstrip_blocks=True)
        self.templates.filters["tojson_data"] = _json_for_script
        self.templates.filters["as_dict"] = _as_dict
        self.templates.filters["cell"] = _cell

    # -- rendering -----------------------------------------------------------------

    def page(self, request: Any, template: str, status: int = 200, **values: Any) -> Any:
        from starlette.responses import HTMLResponse

        session: Session | None = request.scope["state"].get("session")
        language = session.language if session else _accepted_language(request)
        flashes = list(session.flashes) if session else []
        if session:
            session.flashes.clear()
        html = self.templates.get_template(template).render(
            t=lambda key: translate(language, key), lang=language,
            word=lambda kind, value: recorded_word(language, kind, value),
            name=lambda value: substance_name(language, value),
            direction=DIRECTION.get(language, "ltr"), languages=LANGUAGES, session=session,
            csrf=session.csrf if session else "", flashes=flashes, path=request.url.path,
            **values)
        return HTMLResponse(html, status_code=status)

    def refused(self, request: Any, error: Exception, back: str | None = None) -> Any:
        status = error.status if isinstance(error, _Refused) else (
            403 if "refused" in str(error) else 400)
        return self.page(request, "error.html", status=status, message=str(error),
                         back=back)

    # -- sign-in ----------------------------------------------------------------------

    async def login_page(self, request: Any, *, failed: bool = False,
                         locked: bool = False) -> Any:
        # one pre-session token per browser, so that two sign-in tabs both work
        token = request.cookies.get(PRELOGIN_COOKIE) or ""
        if not re.fullmatch(r"[A-Za-z0-9_-]{32}", token):
            token = secrets.token_urlsafe(24)
        response = self.page(request, "login.html", status=401 if failed else 200,
                             failed=failed, locked=locked, signin_token=token,
                             next=_local_target(request.query_params.get("next")))
        response.headers.append("set-cookie", cookie_header(
            PRELOGIN_COOKIE, token, secure=self.settings.secure_cookies, max_age=600))
        return response

    async def login(self, request: Any) -> Any:
        from starlette.concurrency import run_in_threadpool
        from starlette.responses import PlainTextResponse, RedirectResponse

        form = await request.form()
        if not tokens_equal(form.get("signin_token"), request.cookies.get(PRELOGIN_COOKIE, "")):
            return PlainTextResponse("sign-in form expired: reload the page", status_code=403)
        user_id, password = str(form.get("user") or ""), str(form.get("password") or "")
        if not self.throttle.attempt(user_id):  # counted as failed until it succeeds
            return await self.login_page(request, failed=True, locked=True)
        try:
            user = await run_in_threadpool(self._check_password, user_id, password)
        except GcmsError:
            return await self.login_page(request, failed=True)
        self.throttle.succeeded(user_id)
        old = request.scope["state"].get("session")
        session = self.sessions.start(
            user.user_id, printed_name=user.printed_name, roles=tuple(user.roles),
            language=_user_language(user) or _accepted_language(request),
            replacing=old.token if old else None)
        response = RedirectResponse(_local_target(form.get("next")) or "/", status_code=303)
        response.headers.append("set-cookie", cookie_header(
            COOKIE, session.token, secure=self.settings.secure_cookies))
        response.headers.append("set-cookie", cookie_header(
            PRELOGIN_COOKIE, "", secure=self.settings.secure_cookies, max_age=0))
        return response

    def _check_password(self, user_id: str, password: str) -> Any:
        from gcms.custody.credentials import check_password

        user = check_password(self.reader, user_id, password)
        if getattr(user, "status", "active") != "active":
            raise CustodyError(f"user {user_id}: disabled")
        return user

    async def logout(self, request: Any) -> Any:
        from starlette.responses import RedirectResponse

        session = request.scope["state"]["session"]
        self.sessions.end(session.token)
        response = RedirectResponse("/login", status_code=303)
        response.headers.append("set-cookie", cookie_header(
            COOKIE, "", secure=self.settings.secure_cookies, max_age=0))
        return response

    async def language(self, request: Any) -> Any:
        from starlette.responses import RedirectResponse

        form = await request.form()
        session = request.scope["state"]["session"]
        if form.get("language") in LANGUAGES:
            session.language = str(form["language"])
        return RedirectResponse(_local_target(form.get("next")) or "/", status_code=303)

    # -- pages ------------------------------------------------------------------------

    async def queue(self, request: Any) -> Any:
        from starlette.concurrency import run_in_threadpool

        session = request.scope["state"]["session"]
        try:
            queue = await run_in_threadpool(_optional, "gcms.custody.queues", "work_queue",
                                            self.reader, session.user_id)
            rescreened = await run_in_threadpool(
                _optional, "gcms.distributed.rescreen_review", "rescreen_findings",
                self.reader) if session.has_role(*RESCREEN_ROLES) else None
        except GcmsError as error:
            return self.refused(request, error)
        return self.page(request, "queue.html", queue=queue, items=_items(queue),
                         rescreened=rescreened)

    async def cases(self, request: Any) -> Any:
        from starlette.concurrency import run_in_threadpool

        def gather() -> list[tuple[Any, list[Any]]]:
            return [(case, self.reader.exhibits(case.case_id)) for case in self.reader.cases()]

        return self.page(request, "cases.html", cases=await run_in_threadpool(gather))

    async def qa(self, request: Any) -> Any:
        from starlette.concurrency import run_in_threadpool

        from gcms.review import charts

        instrument = request.query_params.get("instrument")

        def gather() -> tuple[Any, Any, list[tuple[str, dict[str, Any]]]]:
            states = _optional("gcms.custody.queues", "instrument_states", self.reader)
            if not instrument:
                return states, None, []
            board = _optional("gcms.custody.queues", "qa_dashboard", self.reader, instrument)
            figures = []
            if board:
                if board.get("tune_metrics"):
                    figures.append(("tune", charts.series_figure(board["tune_metrics"],
                                                                 title="tune")))
                for metric, chart in (board.get("check_standard") or {}).items():
                    figures.append((f"lj-{len(figures)}",
                                    charts.levey_jennings_figure(metric, chart)))
                if board.get("ladder_drift"):
                    figures.append(("ladder", charts.series_figure(
                        board["ladder_drift"], title="ladder RT drift")))
            return states, board, figures

        try:
            states, board, figures = await run_in_threadpool(gather)
        except GcmsError as error:
            return self.refused(request, error)
        return self.page(request, "qa.html", states=states, board=board, figures=figures,
                         instrument=instrument)

    async def exhibit(self, request: Any) -> Any:
        import time

        from starlette.concurrency import run_in_threadpool

        from gcms.review.views import exhibit_view

        started = time.perf_counter()
        session = request.scope["state"]["session"]
        params = request.query_params
        try:
            component = int(params["component"]) if params.get("component") else None
            ions = _ions(params.get("mz")) if params.get("mz") else None
        except ValueError:
            return self.refused(request, _Refused(400, "component and m/z must be numbers"))
        case_id = request.path_params["case_id"]
        exhibit_id = request.path_params.get("exhibit_id")
        result_id = request.path_params.get("result_id") or params.get("result")
        try:
            view = await run_in_threadpool(
                exhibit_view, self.reader, case_id, exhibit_id, result_id=result_id,
                component=component, language=session.language, ions=ions)
            decisions = await run_in_threadpool(
                _optional, "gcms.custody.decisions", "decisions_for", self.reader, case_id,
                exhibit_id) if exhibit_id else None
            rescreened = await run_in_threadpool(
                _optional, "gcms.distributed.rescreen_review", "rescreen_findings",
                self.reader, case_id, exhibit_id) if exhibit_id else None
        except GcmsError as error:
            return self.refused(request, error)
        key_path = (str(Path(self.settings.keys_dir) / f"{session.user_id}.key")
                    if self.settings.keys_dir else "")
        response = self.page(
            request, "exhibit.html", view=view, decisions=decisions,
            decision_items=_items(decisions), key_path=key_path, rescreened=rescreened,
            meanings=[m for m, roles in SIGNING_ROLES.items() if session.has_role(*roles)],
            can_decide=session.has_role(*DECIDING_ROLES),
            can_review=bool(exhibit_id) and session.has_role("reviewer"),
            can_issue=bool(exhibit_id) and session.has_role(*ISSUING_ROLES),
            reports=await run_in_threadpool(self._reports, case_id, exhibit_id)
            if exhibit_id else [])
        server_ms = (time.perf_counter() - started) * 1000
        response.headers["server-timing"] = f"app;dur={server_ms:.1f}"
        return response

    def _reports(self, case_id: str, exhibit_id: str) -> list[Any]:
        from gcms.custody.reports import reports

        return [r for r in reports(self.reader, case_id) if r.exhibit_id == exhibit_id]

    async def xic(self, request: Any) -> Any:
        from starlette.concurrency import run_in_threadpool
        from starlette.responses import JSONResponse

        from gcms.review.views import read_run, xic_traces

        params = request.query_params
        try:
            ions = _ions(params.get("mz") or "")
        except ValueError:
            return JSONResponse({"error": "m/z must be numbers"}, status_code=400)

        def traces() -> list[dict[str, Any]]:
            case_id, result_id = params.get("case") or "", params.get("result") or ""
            result = next((r for r in self.reader.results(case_id)
                           if r.result_id == result_id), None)
            if result is None or result.run_id is None:
                raise CustodyError(f"result {result_id!r} of case {case_id!r}: no run")
            record = next(r for r in self.reader.runs(case_id) if r.run_id == result.run_id)
            run, state, note = read_run(record.to_dict())
            if run is None:
                raise CustodyError(note or state)
            return xic_traces(run, ions)

        try:
            return JSONResponse({"traces": await run_in_threadpool(traces)})
        except GcmsError as error:
            return JSONResponse({"error": str(error)}, status_code=404)

    # -- writes -------------------------------------------------------------------------

    async def _write(self, request: Any, roles: Sequence[str],
                     action: Callable[[Any, dict[str, str], Any], str | None],
                     *, signed: bool = True) -> Any:
        """Run one write as the session's user: roles first, then the store's own rules.

        ``action(store, form, key)`` gets a store opened as the user and the unlocked key
        (``signed``: from the form's key file and passphrase, used once and dropped);
        it returns the flash message. Redirects back to the page the form was on.
        """
        from starlette.concurrency import run_in_threadpool
        from starlette.responses import RedirectResponse

        session: Session = request.scope["state"]["session"]
        form = {k: str(v) for k, v in (await request.form()).items()}
        back = _local_target(form.get("back")) or "/"
        try:
            if not session.has_role(*roles):
                raise _Refused(403, f"refused: {session.user_id} holds none of the roles "
                                    f"{', '.join(roles)} this action needs")
            message = await run_in_threadpool(self._as_user, session, form, action, signed)
        except (GcmsError, _Refused) as error:
            return self.refused(request, error, back)
        finally:
            form.pop("passphrase", None)
        session.flashes.append(("ok", message or translate(session.language, "done")))
        return RedirectResponse(back, status_code=303)

    def _as_user(self, session: Session, form: dict[str, str],
                 action: Callable[[Any, dict[str, str], Any], str | None],
                 signed: bool) -> str | None:
        from gcms.custody import load_signing_key

        key = None
        if signed:
            key_file = form.get("key_file") or ""
            if not key_file or not form.get("passphrase"):
                raise _Refused(400, "a signature needs the key file and its passphrase")
            key = load_signing_key(_key_file(key_file), form["passphrase"])
        return action(self._store_of(session.user_id), form, key)

    def _store_of(self, user_id: str) -> Any:
        """The store opened as ``user_id``, one per user and kept (its connections reused).

        The store's rules check every write against the chain, not against this object.
        """
        from gcms.custody import CaseStore

        with self._stores_lock:
            store = self._stores.get(user_id)
            if store is None:
                store = self._stores[user_id] = CaseStore(self.settings.store, actor=user_id,
                                                          create=False)
            return store

    def close(self) -> None:
        """Release every store's connections."""
        with self._stores_lock:
            for store in self._stores.values():
                store.close()
            self._stores.clear()
        self.reader.close()

    async def verdict(self, request: Any) -> Any:
        case_id, result_id = request.path_params["case_id"], request.path_params["result_id"]

        def act(store: Any, form: dict[str, str], key: Any) -> str:
            decide = _required("gcms.custody.decisions", "decide_verdict")
            decision = decide(store, case_id, result_id, _int(form, "component"),
                              action=form.get("action", ""), reason=_reason(form),
                              new_verdict=form.get("new_verdict") or None, key=key,
                              expected_version=_version(form))
            return _describe(decision)

        return await self._write(request, DECIDING_ROLES, act)

    async def reintegrate(self, request: Any) -> Any:
        case_id, result_id = request.path_params["case_id"], request.path_params["result_id"]

        def act(store: Any, form: dict[str, str], key: Any) -> str:
            redo = _required("gcms.custody.decisions", "reintegrate")
            target: str | int = form.get("analyte") or _int(form, "component")
            decision = redo(store, case_id, result_id, target,
                            start_s=_float(form, "start_min") * 60,
                            end_s=_float(form, "end_min") * 60,
                            baseline=form.get("baseline") or "linear", reason=_reason(form),
                            key=key, expected_version=_version(form))
            return _describe(decision)

        return await self._write(request, DECIDING_ROLES, act)

    async def review(self, request: Any) -> Any:
        case_id, exhibit_id = request.path_params["case_id"], request.path_params["exhibit_id"]

        def act(store: Any, form: dict[str, str], key: Any) -> str:
            outcome = form.get("outcome", "")
            comments = _text(form, "comments") or None
            decide = _required("gcms.custody.decisions", "review_outcome")
            decisions = decide(store, case_id, exhibit_id, outcome=outcome,
                               comments=comments, key=key,
                               analysis_id=form.get("analysis_id") or None,
                               expected_versions=_versions(form))
            return "; ".join(_describe(d) for d in decisions)

        return await self._write(request, ("reviewer",), act)

    async def sign(self, request: Any) -> Any:
        case_id, result_id = request.path_params["case_id"], request.path_params["result_id"]
        session: Session = request.scope["state"]["session"]
        form_meaning = (await request.form()).get("meaning", "")
        roles = SIGNING_ROLES.get(str(form_meaning), ())
        if not roles:
            return self.refused(request, _Refused(400, f"signature meaning {form_meaning!r}: "
                                                       f"one of {', '.join(SIGNING_ROLES)}"))

        def act(store: Any, form: dict[str, str], key: Any) -> str:
            signature = store.sign_result(case_id, result_id, key, meaning=form["meaning"])
            return (f"signed {signature.signature_id} as {signature.meaning} by "
                    f"{signature.printed_name} at {signature.signed_at}")

        del session
        return await self._write(request, roles, act)

    async def report(self, request: Any) -> Any:
        case_id, exhibit_id = request.path_params["case_id"], request.path_params["exhibit_id"]

        def act(store: Any, form: dict[str, str], key: Any) -> str:
            from gcms.report.issue import Signing, make_report
            from gcms.report.lab import LabProfile, load_lab_profile

            languages = form.get("languages") or "en"
            if languages not in ("en", "ar", "ar,en", "en,ar"):
                raise _Refused(400, f"report languages {languages!r}: en, ar or ar,en")
            signing = None
            if form.get("key_file") and form.get("passphrase"):
                from gcms.custody import load_signing_key

                meaning = form.get("meaning") or "authored"
                signing = Signing(meaning=meaning, key=load_signing_key(
                    _key_file(form["key_file"]), form["passphrase"]))
            profile = (load_lab_profile(self.settings.lab) if self.settings.lab
                       else LabProfile(laboratory=None))
            made = make_report(exhibit_id, fmt="pdf", store=store, case_id=case_id,
                               profile=profile, languages=languages, signing=signing)
            name = f"{made.model.report_id}.pdf".replace("/", "-")
            if not _REPORT_NAME.match(name):
                name = f"{case_id}-{exhibit_id}-{made.record.file_sha256[:12]}.pdf"
            path = self.settings.reports_folder() / name
            temporary = path.with_name(path.name + ".tmp")
            temporary.write_bytes(made.data)
            os.replace(temporary, path)
            status = made.status.upper()
            unmet = f" (policy needs: {', '.join(made.unmet)})" if made.unmet else ""
            # the file name only: the server's folders are not the browser's business
            return f"report {made.model.report_id}: {status}{unmet}, file {path.name}"

        return await self._write(request, ISSUING_ROLES, act, signed=False)

    async def report_file(self, request: Any) -> Any:
        from starlette.responses import FileResponse, PlainTextResponse

        name = request.path_params["name"]
        path = self.settings.reports_folder() / name
        if not _REPORT_NAME.match(name) or not path.is_file():
            return PlainTextResponse("no such report", status_code=404)
        return FileResponse(path, media_type="application/pdf")

    # -- static -------------------------------------------------------------------------

    async def plotly(self, request: Any) -> Any:
        from starlette.responses import FileResponse

        return FileResponse(plotly_js_path(), media_type="text/javascript",
                            headers={"cache-control": "private, max-age=86400"})

    async def favicon(self, request: Any) -> Any:
        from starlette.responses import Response

        return Response(status_code=204, headers={"cache-control": "private, max-age=86400"})

    async def static(self, request: Any) -> Any:
        from starlette.responses import PlainTextResponse, Response

        name = request.path_params["name"]
        kinds = {".js": "text/javascript", ".css": "text/css", ".png": "image/png"}
        kind = kinds.get(Path(name).suffix)
        item = resources.files("gcms.review").joinpath("static", name)
        if kind is None or "/" in name or not item.is_file():
            return PlainTextResponse("not found", status_code=404)
        return Response(item.read_bytes(), media_type=kind,
                        headers={"cache-control": "private, max-age=3600"})


# -- helpers --------------------------------------------------------------------------


def _warm_up() -> None:
    """Import what the exhibit page needs (readers, results, library, report adapters)."""
    import gcms.io  # noqa: F401
    import gcms.report.adapters  # noqa: F401
    import gcms.results  # noqa: F401


def _json_for_script(value: Any) -> str:
    """JSON safe inside ``<script type="application/json">`` (no ``</`` can close it)."""
    from markupsafe import Markup

    text = json.dumps(value, allow_nan=False, separators=(",", ":"))
    return Markup(text.replace("<", "\\u003c").replace(">", "\\u003e")
                  .replace("&", "\\u0026"))


def _as_dict(value: Any) -> dict[str, Any]:
    """A record (``to_dict``/``to_json``), dataclass or mapping as a plain dict."""
    import dataclasses

    if isinstance(value, dict):
        return value
    for name in ("to_dict", "to_json"):
        if callable(getattr(value, name, None)):
            return dict(getattr(value, name)())
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        return {f.name: getattr(value, f.name) for f in dataclasses.fields(value)}
    if hasattr(value, "items") and callable(value.items):
        return dict(value.items())
    return {"value": value}


def _cell(value: Any) -> str:
    """A table cell: numbers to 4 significant figures, lists joined, None as a dash."""
    if value is None:
        return "—"
    if isinstance(value, bool):
        return "✓" if value else "✗"
    if isinstance(value, float):
        return f"{value:.4g}"
    if isinstance(value, (list, tuple)):
        return ", ".join(_cell(v) for v in value)
    if isinstance(value, dict):
        return "; ".join(f"{k}: {_cell(v)}" for k, v in value.items())
    return str(value)


def _local_target(target: Any) -> str | None:
    """A redirect target only within this site (no scheme, no host, starts with /).

    Browsers read a backslash as a slash and drop tabs and line breaks from a URL
    (WHATWG URL Standard), so ``/<backslash>evil.example`` or ``/<tab>/evil.example`` would leave
    the site: no backslash, no control character or space is accepted (OWASP
    Unvalidated Redirects and Forwards Cheat Sheet).
    """
    if not target:
        return None
    text = str(target)
    if "\\" in text or any(ord(c) < 0x21 or ord(c) == 0x7F for c in text):
        return None
    parts = urlsplit(text)
    if parts.scheme or parts.netloc or not text.startswith("/") or text.startswith("//"):
        return None
    return text


def _key_file(path: str) -> str:
    """A signing form's key file, refused unless a small regular file.

    The path is typed by the user and read by the server: a device (``/dev/zero``), a
    pipe or a large file would hang or exhaust the server; none is read, and nothing of
    a file that is not a key is ever shown (:func:`gcms.custody.load_signing_key` names
    the path and the problem only).
    """
    import stat

    try:
        info = os.stat(path)
    except (OSError, ValueError):
        raise _Refused(400, f"{path}: cannot read the key file") from None
    if not stat.S_ISREG(info.st_mode) or info.st_size > MAX_KEY_FILE_BYTES:
        raise _Refused(400, f"{path}: not a key file (gcms key new makes one)")
    return path


def _accepted_language(request: Any) -> str:
    header = request.headers.get("accept-language", "")
    return "ar" if header.lower().startswith("ar") else "en"


def _user_language(user: Any) -> str | None:
    language = getattr(user, "language", None)
    return language if language in LANGUAGES else None


def _ions(text: str) -> list[float]:
    values = [float(v) for v in re.split(r"[,\s]+", text.strip()) if v]
    if any(not 1 <= v <= 2000 for v in values):
        raise ValueError("m/z out of range")
    return values


def _int(form: dict[str, str], name: str) -> int:
    try:
        return int(form.get(name, ""))
    except ValueError:
        raise _Refused(400, f"{name}: a whole number is required") from None


def _float(form: dict[str, str], name: str) -> float:
    try:
        return float(form.get(name, ""))
    except ValueError:
        raise _Refused(400, f"{name}: a number is required") from None


def _text(form: dict[str, str], name: str) -> str:
    """A free-text field, stripped; refused over :data:`MAX_TEXT_CHARS` characters."""
    text = form.get(name, "").strip()
    if len(text) > MAX_TEXT_CHARS:
        raise _Refused(400, f"{name}: at most {MAX_TEXT_CHARS} characters "
                            f"({len(text)} given)")
    return text


def _reason(form: dict[str, str]) -> str:
    reason = _text(form, "reason")
    if not reason:
        raise _Refused(400, "a reason is required")
    return reason


def _optional(module: str, name: str, *args: Any) -> Any:
    """``module.name(*args)``, or None where this installation lacks that function."""
    import importlib

    try:
        function = getattr(importlib.import_module(module), name)
    except (ImportError, AttributeError):
        return None
    return function(*args)


def _required(module: str, name: str) -> Callable[..., Any]:
    import importlib

    try:
        return getattr(importlib.import_module(module), name)
    except (ImportError, AttributeError):
        raise _Refused(501, f"{module}.{name}: not available in this installation") from None


def _items(value: Any) -> list[Any]:
    """A queue or dashboard as a list of rows for a template (dicts or records)."""
    if value is None:
        return []
    if isinstance(value, dict):
        return [{"key": k, "value": v} for k, v in value.items()]
    if hasattr(value, "items") and not callable(value.items):
        return list(value.items)
    if hasattr(value, "to_dict"):
        return _items(value.to_dict())
    try:
        return list(value)
    except TypeError:
        return [value]


def _version(form: dict[str, str]) -> int | None:
    """The result version the form was shown with (a change since is refused)."""
    return _int(form, "version") if form.get("version") else None


def _versions(form: dict[str, str]) -> dict[str, int] | None:
    """The result versions a review form was shown with (``RS1:2,RS4:1``), or None.

    None only where the form has no ``versions`` field at all (a client that does not
    guard); a field present but empty means "shown none", and every result is refused.
    """
    if "versions" not in form:
        return None
    text = form["versions"].strip()
    if not text:
        return {}
    out = {}
    for item in text.split(","):
        result_id, _, version = item.strip().partition(":")
        try:
            out[result_id] = int(version)
        except ValueError:
            raise _Refused(400, f"versions: {item!r} is not RESULT:VERSION") from None
    return out


def _describe(decision: Any) -> str:
    """One line on a decision the store recorded."""
    if decision is None:
        return "recorded"
    parts = [str(getattr(decision, "action", "") or "")]
    component = getattr(decision, "component", None)
    if component is not None:
        parts.append(f"component {component}")
    before, after = getattr(decision, "before", None), getattr(decision, "after", None)
    if before and after and before != after:
        parts.append(f"{dict(before)} → {dict(after)}")
    result = getattr(decision, "result_id", None)
    if result:
        parts.append(f"result {result} v{getattr(decision, 'result_version', '?')}")
    return " ".join(p for p in parts if p) + " recorded"
