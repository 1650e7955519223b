"""The security middleware of semclust's browser apps (the coding app and the explore app).

Both apps show untrusted text and images to someone whose browser also has other sites
open, so both get the same defences; only the scripts and styles a page may run differ
(the explore app's plotly needs ``'unsafe-eval'``), and each app says those itself.

- ``Host`` checked against ``allowed_hosts``, so a web page cannot reach an app on
  127.0.0.1 through DNS rebinding.
- Requests that change state (anything but GET, HEAD, OPTIONS) only from the app's own
  pages; see :func:`same_origin` for the rule.
- A content security policy with a fresh nonce per request (``request.state.nonce``, which
  the pages put on their scripts and styles); no framing, no sniffing, no referrer sent out.

Imports Starlette, which only the ``annotate`` and ``explore`` extras install: import this
module from the apps, never from ``semclust.core`` itself.
"""

from __future__ import annotations

import secrets
from collections.abc import Callable, Sequence

from starlette.applications import Starlette
from starlette.middleware.trustedhost import TrustedHostMiddleware
from starlette.requests import Request
from starlette.responses import Response

#: Methods that only read, so a request from another site may use them (it cannot read the answer).
SAFE_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})
#: ``Sec-Fetch-Site`` values a browser sends when no other site made the request.
OWN_SITE = frozenset({"same-origin", "none"})
#: Directives every page gets after its own: nothing else to post to, no <base>, no framing.
LOCKED = "form-action 'self'; base-uri 'none'; frame-ancestors 'none'"

#: The app's part of the CSP from the request and its nonce: its ``script-src``, ``img-src`` etc.
PagePolicy = Callable[[Request, str], str]


def secure(app: Starlette, page_policy: PagePolicy, allowed_hosts: Sequence[str] | None = None) -> None:
    """Add the host check (when ``allowed_hosts`` is given) and the security middleware to ``app``."""
    if allowed_hosts:
        app.add_middleware(TrustedHostMiddleware, allowed_hosts=list(allowed_hosts))
    app.middleware("http")(_middleware(page_policy))


def _middleware(page_policy: PagePolicy):
    """Refuses cross-site requests that change state; puts the security headers on every answer."""

    async def security(request: Request, call_next) -> Response:
        nonce = request.state.nonce = secrets.token_urlsafe(16)
        if request.method in SAFE_METHODS or same_origin(request):
            response = await call_next(request)
        else:
            response = Response("cross-site request refused", status_code=403)
        response.headers.update({
            "Content-Security-Policy": f"default-src 'none'; {page_policy(request, nonce)}; {LOCKED}",
            "X-Content-Type-Options": "nosniff",
            "X-Frame-Options": "DENY",
            "Referrer-Policy": "same-origin",
        })
        return response

    return security


def same_origin(request: Request) -> bool:
    """Whether a state-changing request may come from where it says it comes from.

    The threat is cross-site request forgery: another page in the user's browser posting
    to the app. A browser marks every such request itself, in headers a page cannot set:
    ``Sec-Fetch-Site`` (all current browsers) and ``Origin`` (on every cross-origin POST,
    also in browsers older than ``Sec-Fetch-Site``; only Firefox before 70, of 2019, left
    it off form posts). So:

    - ``Sec-Fetch-Site``, when present, decides: ``same-origin``, or ``none`` (the user
      made the request, not a page). ``same-site`` is refused: another app on another
      port of 127.0.0.1 is same-site. Its word outranks ``Origin`` because behind an
      HTTPS reverse proxy (how a crowd study is served) ``Origin`` says ``https://`` while
      the app sees ``http://``.
    - Otherwise ``Origin``, when present, must be this app's own scheme and host.
    - With neither, the request is not from a browser page (curl, a script, a test
      client): a forgery would carry one of them, and such a client could set any header
      it liked, so refusing it would protect nothing.
    """
    site = request.headers.get("sec-fetch-site")
    if site is not None:
        return site in OWN_SITE
    origin = request.headers.get("origin")
    return origin is None or origin == f"{request.url.scheme}://{request.headers.get('host')}"
