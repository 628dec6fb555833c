"""Serving the workstation with uvicorn: loopback by default, a warning otherwise."""

from __future__ import annotations

from typing import Any

from gcms.review.app import ReviewSettings, create_app
from gcms.review.security import LOOPBACK_HOSTS, is_loopback

__all__ = ["DEFAULT_HOST", "DEFAULT_PORT", "bind_warning", "serve", "served_settings"]

#: Where the workstation listens unless told otherwise: this computer only.
DEFAULT_HOST = "127.0.0.1"
DEFAULT_PORT = 8765


def bind_warning(host: str) -> str | None:
    """What to tell the user when ``host`` is not the loopback interface (else None)."""
    if is_loopback(host):
        return None
    return (f"warning: serving on {host}, not on this computer only: anyone who can reach "
            "this address can try to sign in. Put it behind HTTPS (a reverse proxy with a "
            "certificate): its cookies are marked Secure and need HTTPS.")


def served_settings(settings: ReviewSettings, host: str) -> ReviewSettings:
    """``settings`` as served on ``host``.

    Off loopback its cookies are ``Secure``; on loopback it answers only to the loopback
    names (``Host``), so that a web page whose name is made to resolve to 127.0.0.1
    (DNS rebinding) reaches nothing.
    """
    import dataclasses

    if not is_loopback(host) and not settings.secure_cookies:
        settings = dataclasses.replace(settings, secure_cookies=True)
    if is_loopback(host) and settings.allowed_hosts is None:
        settings = dataclasses.replace(settings, allowed_hosts=(*LOOPBACK_HOSTS, host))
    return settings


def serve(settings: ReviewSettings, *, host: str = DEFAULT_HOST, port: int = DEFAULT_PORT,
          **uvicorn_options: Any) -> None:
    """Serve the workstation until interrupted (settings: :func:`served_settings`)."""
    import uvicorn

    app = create_app(served_settings(settings, host))
    uvicorn.run(app, host=host, port=port, proxy_headers=False, server_header=False,
                **uvicorn_options)
