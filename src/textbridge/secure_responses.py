"""Every HTTP response leaves with the security headers, and an unexpected exception leaves as a
generic 500 (pure ASGI middleware, the outermost of the app's own).

Pure ASGI rather than Starlette's `BaseHTTPMiddleware`, which runs the app in a separate task
and pipes every body through a memory stream: this one only touches the `http.response.start`
message (a set of the header names already there, one list built), so it costs about a
microsecond per request (`bench/RESULTS.md`) and streams (the event stream) pass untouched.

- **Headers.** A response that sets one of these headers itself keeps its own value; the rest
  are added. The API docs pages (`/docs`, `/redoc`) get their own CSP: they load Swagger UI and
  ReDoc from the CDN FastAPI points at, and the Swagger page has one inline script, allowed by
  its hash.
- **HSTS only over https**, judged by `scope["scheme"]`. Behind a proxy that terminates TLS,
  uvicorn sets the scheme from `X-Forwarded-Proto` only when proxy headers are on (`textbridge
  serve` turns them on) and the peer is in `--forwarded-allow-ips` (`FORWARDED_ALLOW_IPS`,
  default 127.0.0.1). We never read `X-Forwarded-Proto` ourselves: any client can send it.
- **Unexpected exceptions.** Anything the app's handlers did not turn into a response becomes
  `api.errors.unexpected_error`: a 500 whose body says nothing but a request id, the traceback
  logged with that id (scrubbed by the logging set-up). Caught here rather than in Starlette's
  `ServerErrorMiddleware` (outside every user middleware), so that the 500 carries the headers
  too, and is logged once, not again by uvicorn. An exception after the response started cannot
  be answered any more: it is raised on, for uvicorn to log and close the connection.
"""

from __future__ import annotations

import base64
import hashlib
import re

from fastapi import FastAPI
from fastapi.openapi.docs import get_swagger_ui_html, get_swagger_ui_oauth2_redirect_html
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from textbridge.api.errors import unexpected_error

Headers = list[tuple[bytes, bytes]]

# The pages load only their own script and stylesheet: no inline code, no third parties. The one
# exception is images: message attachments are thumbnails straight from the provider's or the
# contact's media host, so any https origin may serve an <img> (never a script or a style).
CONTENT_SECURITY_POLICY = (
    "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' https: data:; "
    "connect-src 'self'; form-action 'self'; frame-ancestors 'none'; base-uri 'none'"
)
PERMISSIONS_POLICY = (
    "accelerometer=(), camera=(), geolocation=(), gyroscope=(), magnetometer=(), "
    "microphone=(), payment=(), usb=()"
)
COMMON_HEADERS = {
    "X-Frame-Options": "DENY",
    "X-Content-Type-Options": "nosniff",
    # Not no-referrer: under it a browser sends `Origin: null` on a same-origin POST, which the
    # Origin check against cross-site writes (CSRF) must refuse. same-origin sends nothing to
    # other sites (media hosts of thumbnails) and keeps Origin for our own.
    "Referrer-Policy": "same-origin",
    "Permissions-Policy": PERMISSIONS_POLICY,
    "Cross-Origin-Opener-Policy": "same-origin",
}
# A year, the usual value (and the minimum for browsers' preload lists). No includeSubDomains:
# textbridge usually runs on one host of a domain whose other hosts it does not speak for.
HSTS = "max-age=31536000"

DOCS_PATHS = frozenset({"/docs", "/redoc", "/docs/oauth2-redirect"})
_INLINE_SCRIPT = re.compile(r"<script>(.*?)</script>", re.S | re.I)


def _inline_script_hashes(html: str) -> str:
    digests = (hashlib.sha256(script.encode()).digest() for script in _INLINE_SCRIPT.findall(html))
    return " ".join(f"'sha256-{base64.b64encode(digest).decode()}'" for digest in digests)


def docs_policy(app: FastAPI) -> str:
    """The CSP of `app`'s docs pages: FastAPI's Swagger UI and ReDoc from their CDN paths
    only, and the inline scripts of the pages as FastAPI renders them for `app`."""
    swagger = get_swagger_ui_html(
        openapi_url=app.openapi_url or "",
        title="",  # in <title>, not in a script
        oauth2_redirect_url=app.swagger_ui_oauth2_redirect_url,
        init_oauth=app.swagger_ui_init_oauth,
        swagger_ui_parameters=app.swagger_ui_parameters,
    )
    pages = bytes(swagger.body) + bytes(get_swagger_ui_oauth2_redirect_html().body)
    return (
        "default-src 'none'; "
        "script-src https://cdn.jsdelivr.net/npm/swagger-ui-dist@5/ "
        f"https://cdn.jsdelivr.net/npm/redoc@2/ {_inline_script_hashes(pages.decode())}; "
        "style-src https://cdn.jsdelivr.net/npm/swagger-ui-dist@5/ https://fonts.googleapis.com "
        "'unsafe-inline'; font-src https://fonts.gstatic.com; "
        "img-src 'self' data: https://fastapi.tiangolo.com; connect-src 'self'; "
        "worker-src blob:; form-action 'none'; frame-ancestors 'none'; base-uri 'none'"
    )


def header_list(content_security_policy: str, https: bool) -> Headers:
    values = {"Content-Security-Policy": content_security_policy, **COMMON_HEADERS}
    if https:
        values["Strict-Transport-Security"] = HSTS
    return [(name.lower().encode(), value.encode()) for name, value in values.items()]


_OUR_NAMES = frozenset(name for name, _ in header_list("", https=True))


class SecureResponses:
    def __init__(self, app: ASGIApp, docs_csp: str = CONTENT_SECURITY_POLICY) -> None:
        """`docs_csp`: `docs_policy(the FastAPI app)`, for an app that serves its docs."""
        self.app = app
        page = CONTENT_SECURITY_POLICY
        docs = docs_csp
        # Indexed by [is a docs page][is https]: chosen with two look-ups per request.
        self._headers = (
            (header_list(page, https=False), header_list(page, https=True)),
            (header_list(docs, https=False), header_list(docs, https=True)),
        )

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        extra = self._headers[scope["path"] in DOCS_PATHS][scope.get("scheme") == "https"]
        started = False

        async def send_with_headers(message: Message) -> None:
            nonlocal started
            if message["type"] == "http.response.start":
                started = True
                message["headers"] = with_defaults(message.get("headers", ()), extra)
            await send(message)

        try:
            await self.app(scope, receive, send_with_headers)
        except Exception as exc:
            if started:
                raise
            await unexpected_error(scope, exc)(scope, receive, send_with_headers)


def with_defaults(headers: Headers, defaults: Headers) -> Headers:
    """`headers` and each of `defaults` whose name is not among them: a new list (a response
    sent many times, like the webhooks' shared 200, reuses its own)."""
    for name, _ in headers:
        if name in _OUR_NAMES:  # rare: a response that sets one of ours itself
            present = {name for name, _ in headers}
            return [*headers, *(header for header in defaults if header[0] not in present)]
    return [*headers, *defaults]
