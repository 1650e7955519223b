"""The coding app: coders answer a task's units one at a time in a browser.

A coder comes into being by starting to code: typing a name on the start page (one
machine, a lab), or opening a signed link (a personal link from ``--coders-file``, or a
crowd platform's study link that fills in the participant id). Starting gives the
browser a session cookie, signed with the task's secret, that holds a random key per
coder; only the key's hash is stored, so nobody else -- another browser, someone typing
the same name or participant id -- can see or change that coder's answers. Every answer
is written to the study database when it is submitted, so closing the tab loses nothing.

Pages are rendered on the server from Jinja2 templates (autoescaped: post text,
descriptions and names are untrusted); a few lines of inline JavaScript add keyboard
shortcuts and the full-size viewer, so the forms work without it. Errors are pages too.

Images are served by item id only, and only for the items of the task: ``/image/<id>``
looks the id up in the study and re-encodes the picture as JPEG (upright, small, without
EXIF metadata), so no path from a URL ever reaches the file system.
"""

from __future__ import annotations

import functools
import logging
import os
import secrets
from collections.abc import Sequence
from contextlib import asynccontextmanager
from pathlib import Path
from urllib.parse import parse_qs, quote

from fastapi import FastAPI, HTTPException, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from itsdangerous import BadSignature, URLSafeSerializer
from starlette.exceptions import HTTPException as StarletteHTTPException

from semclust.core.imageio import ImageReadError, downscale, jpeg_bytes, open_image
from semclust.core.web_security import secure
from semclust.stages.report import template_environment
from semclust.validation.annotate.codebook import offered_themes
from semclust.validation.annotate.dashboard import dashboard_rows
from semclust.validation.annotate.links import is_admin, read_invitation
from semclust.validation.annotate.tasks import (
    AnnotationError,
    AnnotationStore,
    Task,
    check_coder,
    group_of,
    next_index,
    parse_answer,
    progress,
    scale_labels,
    study_images,
    task_scales,
    themes_used,
)

log = logging.getLogger(__name__)

#: Longest side of the images shown to coders, in pixels.
IMAGE_SIDE = 1024
#: Keyboard shortcuts of each pair dimension, code 0 first (left hand, right hand).
SHORTCUTS = {"denotative": ("a", "s", "d"), "connotative": ("j", "k", "l"), "same": ("n", "y")}
QUESTIONS = {
    "denotative": "Denotative: do the two images show the same or similar visual elements?",
    "connotative": "Connotative: do the two images refer to the same social meaning?",
    "same": "Do the two images belong in one group?",
}
#: Largest form body accepted: an answer is a few short fields.
MAX_FORM_BYTES = 16_384
#: Seconds the completion page waits before sending a participant back to the platform.
COMPLETION_DELAY = 5
_TEMPLATES = {
    "pairs": "annotate_pairs.html.j2",
    "interpretability": "annotate_interpretability.html.j2",
    "consistency": "annotate_consistency.html.j2",
    "ratings": "annotate_ratings.html.j2",
}
_SESSION_SALT = "semclust.annotate.session"


def create_app(
    study: str | Path,
    task_name: str,
    *,
    allowed_hosts: Sequence[str] | None = None,
    image_side: int = IMAGE_SIDE,
) -> FastAPI:
    """The app serving task ``task_name`` of ``study`` (load it first with ``load_task``).

    ``allowed_hosts`` restricts the ``Host`` header (e.g. to ``127.0.0.1`` and
    ``localhost``), which stops a web page from reaching the app through DNS rebinding.
    How the task is fielded (links only, completion URL) is read from the study
    (:meth:`AnnotationStore.set_fielding`, which ``semclust annotate serve`` calls).
    """
    with AnnotationStore(study) as probe:
        task = probe.task(task_name)
        fielding = probe.fielding(task)
    images = {i: p for i, p in study_images(study).items() if i in task.item_ids}
    pages = _Pages(task, fielding)

    @asynccontextmanager
    async def lifespan(_: FastAPI):
        pages.store = AnnotationStore(study)  # one connection per serving, closed at shutdown
        try:
            yield
        finally:
            pages.store.close()

    app = FastAPI(
        title=f"semclust coding: {task.name}",
        lifespan=lifespan,
        docs_url=None,
        redoc_url=None,
        openapi_url=None,
    )
    secure(app, _page_policy, allowed_hosts)

    @app.exception_handler(StarletteHTTPException)
    async def http_error(request: Request, exc: StarletteHTTPException) -> Response:
        return pages.error(request, exc.status_code, str(exc.detail))

    @app.exception_handler(RequestValidationError)
    async def bad_address(request: Request, exc: RequestValidationError) -> Response:
        return pages.error(request, 404, "there is no such page")

    @app.get("/", response_class=HTMLResponse)
    def login(request: Request) -> HTMLResponse:
        return pages.login(request)

    @app.post("/start")
    async def start(request: Request) -> Response:
        return pages.start(request, await _form(request))

    @app.get("/join/{token}")
    def join(request: Request, token: str) -> Response:
        return pages.join(request, token)

    @app.get("/admin/{token}", response_class=HTMLResponse)
    def admin(request: Request, token: str) -> HTMLResponse:
        return pages.dashboard(request, token)

    @app.get("/code/{coder}")
    def resume(request: Request, coder: str) -> Response:
        return pages.next_page(pages.owned(request, coder), after=0)

    @app.get("/code/{coder}/units", response_class=HTMLResponse)
    def units(request: Request, coder: str) -> HTMLResponse:
        return pages.units(request, pages.owned(request, coder))

    @app.get("/code/{coder}/{number:int}", response_class=HTMLResponse)
    def unit(request: Request, coder: str, number: int) -> HTMLResponse:
        return pages.unit(request, pages.owned(request, coder), number)

    @app.post("/code/{coder}/{number:int}")
    async def answer(request: Request, coder: str, number: int) -> Response:
        return pages.answer(request, pages.owned(request, coder), number, await _form(request))

    @app.get("/favicon.ico")
    def favicon() -> Response:
        return Response(status_code=204)

    @app.get("/image/{item_id:path}")
    def image(item_id: str) -> Response:
        path = images.get(item_id)
        if path is None:
            raise HTTPException(404, "no such image in this task")
        try:
            data = _jpeg(path, os.stat(path).st_mtime_ns, image_side)
        except (OSError, ImageReadError) as exc:
            log.warning("cannot show image %s: %s", item_id, exc)
            raise HTTPException(404, "the image file cannot be read") from None
        return Response(
            data, media_type="image/jpeg", headers={"Cache-Control": "private, max-age=3600"}
        )

    return app


class _Pages:
    """Renders the pages of one task; knows each coder's order, progress and session."""

    def __init__(self, task: Task, fielding: dict):
        self.task = task
        self.fielding = fielding
        self.cookie = f"semclust_{task.id}"
        self.sessions_signer = URLSafeSerializer(fielding["secret"], salt=_SESSION_SALT)
        self.store: AnnotationStore | None = None  # opened by the app's lifespan

    # --- who is coding --------------------------------------------------------------------
    def sessions(self, request: Request) -> dict[str, str]:
        """The coders this browser started, with their session keys (from the signed cookie)."""
        value = request.cookies.get(self.cookie)
        if not value:
            return {}
        try:
            sessions = self.sessions_signer.loads(value)
        except BadSignature:
            return {}
        return sessions if isinstance(sessions, dict) else {}

    def owned(self, request: Request, coder: str) -> str:
        """``coder`` if this browser started that coder; otherwise an error page."""
        try:
            check_coder(coder)
        except AnnotationError:
            raise HTTPException(404, "there is no such coder") from None
        found = self.store.coder(self.task, coder)
        if found is None or found.removed_at:
            raise HTTPException(404, "there is no such coder in this task")
        key = self.sessions(request).get(coder)
        if key is None or not self.store.session_matches(self.task, coder, key):
            raise HTTPException(
                403,
                "these units belong to a coder who started in another browser: only that "
                "browser can open them. Start with your own name or link.",
            )
        return coder

    def _enter(self, request: Request, coder: str, key: str | None = None) -> Response:
        """Go to the coder's next unit; a new ``key`` joins this browser's sessions."""
        response = self.next_page(coder, after=0)
        if key is not None:
            sessions = self.sessions(request) | {coder: key}
            response.set_cookie(
                self.cookie,
                self.sessions_signer.dumps(sessions),
                max_age=180 * 24 * 3600,
                httponly=True,
                samesite="lax",
                secure=request.url.scheme == "https",
            )
        return response

    def start(self, request: Request, form: dict[str, str]) -> Response:
        """The start page's form: a new name starts a coder; a taken one only in its browser."""
        if self.fielding.get("links_only"):
            raise HTTPException(403, "this study is reached through the link you were given")
        name = form.get("coder", "").strip()
        try:
            check_coder(name)
            found = self.store.coder(self.task, name)
            if found is not None:
                key = self.sessions(request).get(name)
                if (
                    found.removed_at is None
                    and key
                    and self.store.session_matches(self.task, name, key)
                ):
                    return self._enter(request, name)
                raise AnnotationError(
                    f"the name {name!r} is taken: continue in the browser where you started, "
                    "or choose another name"
                )
            key = secrets.token_urlsafe(24)
            self.store.add_coder(
                self.task, name, attributes=self._chosen_group(form), session_key=key
            )
        except AnnotationError as exc:
            return self.login(request, error=str(exc), status_code=400)
        return self._enter(request, name, key)

    def _chosen_group(self, form: dict[str, str]) -> dict:
        groups = self.task.spec.settings.get("groups")
        return {groups["attribute"]: form.get("group", "")} if groups else {}

    def join(self, request: Request, token: str) -> Response:
        """A signed link: a personal one names the coder, a crowd one brings a participant id."""
        try:
            invitation = read_invitation(self.fielding["secret"], self.task, token)
        except AnnotationError as exc:
            raise HTTPException(403, str(exc)) from None
        name = invitation.coder
        if name is None:
            param = invitation.participant_param
            name = request.query_params.get(param, "").strip()
            if name.startswith(("{{", "${")):  # the platform did not fill its placeholder in
                raise HTTPException(400, f"the link lacks your participant id ({param}=...)")
            if not name:  # a link without the id (an MTurk survey link): ask for it
                return self._render(request, "annotate_join.html.j2", 200, token=token, param=param)
        try:
            check_coder(name)
        except AnnotationError:
            raise HTTPException(
                400, "this participant id cannot be used (letters, digits, _ . - only)"
            ) from None
        found = self.store.coder(self.task, name)
        if found is None:
            key = secrets.token_urlsafe(24)
            try:
                self.store.add_coder(
                    self.task, name, attributes=invitation.attributes, session_key=key
                )
            except AnnotationError as exc:
                raise HTTPException(400, str(exc)) from None
            return self._enter(request, name, key)
        key = self.sessions(request).get(name)
        if (
            found.removed_at is None
            and found.attributes == invitation.attributes
            and key
            and self.store.session_matches(self.task, name, key)
        ):
            return self._enter(request, name)
        raise HTTPException(
            403,
            f"{name!r} has already started this study in another browser; only that browser "
            "can continue. If that was you, go back to it; otherwise contact the researcher.",
        )

    # --- pages ----------------------------------------------------------------------------
    def login(self, request: Request, error: str | None = None, status_code: int = 200):
        if self.fielding.get("links_only"):
            return self.error(request, 403, "this study is reached through the link you were given")
        mine = []
        for name, key in self.sessions(request).items():
            found = self.store.coder(self.task, name)
            if found and not found.removed_at and self.store.session_matches(self.task, name, key):
                order = self.store.coder_order(self.task, name)
                mine.append((name, progress(order, self.store.answers(self.task, name))))
        return self._render(
            request,
            "annotate_login.html.j2",
            status_code,
            coders=mine,
            error=error,
            groups=self.task.spec.settings.get("groups"),
        )

    def error(self, request: Request, status_code: int, message: str) -> HTMLResponse:
        return self._render(request, "annotate_error.html.j2", status_code, message=message)

    def dashboard(self, request: Request, token: str) -> HTMLResponse:
        if not is_admin(self.fielding["secret"], self.task, token):
            raise HTTPException(404, "there is no such page")
        return self._render(
            request, "annotate_dashboard.html.j2", 200, **dashboard_rows(self.store, self.task)
        )

    def answer(self, request: Request, coder: str, number: int, form: dict[str, str]) -> Response:
        """Store the answer (or the skip) to unit ``number``, then go to the next open unit."""
        position = _position(self.store.coder_order(self.task, coder), number)
        try:
            value = None if form.get("action") == "skip" else parse_answer(self.task, form)
        except AnnotationError as exc:
            return self.unit(request, coder, number, error=str(exc), status_code=400)
        self.store.save(self.task, coder, position, value)
        return self.next_page(coder, after=number)

    def next_page(self, coder: str, after: int) -> RedirectResponse:
        """The coder's next open unit after number ``after`` (0: from the start), or the list."""
        order = self.store.coder_order(self.task, coder)
        index = next_index(order, self.store.answers(self.task, coder), after - 1)
        return _redirect(f"/code/{coder}/units" if index is None else f"/code/{coder}/{index + 1}")

    def unit(
        self,
        request: Request,
        coder: str,
        number: int,
        error: str | None = None,
        status_code: int = 200,
    ) -> HTMLResponse:
        """Unit ``number`` of the coder's order, with the coder's saved answer filled in."""
        order = self.store.coder_order(self.task, coder)
        position = _position(order, number)
        answers = self.store.answers(self.task, coder)
        saved = next((a.value for a in answers if a.position == position), None)
        unit = self.task.units[position]
        grouped = self.task.spec.settings.get("grouped")
        context = {
            "coder": coder,
            "number": number,
            "size": len(order),
            "progress": progress(order, answers),
            "images": [image_url(i) for i in unit.items],
            "text": unit.content.get("text"),
            "group": group_of(self.task, order, position) if grouped else None,
            "saved": saved or {},
            "error": error,
        }
        context |= self._questions(answers)
        return self._render(request, _TEMPLATES[self.task.kind], status_code, **context)

    def _questions(self, answers) -> dict:
        """What the kind asks: scales with shortcuts, lettered descriptions, or known themes."""
        settings = self.task.spec.settings
        if self.task.kind == "pairs":
            return {
                "scales": [
                    {"name": d, "question": QUESTIONS[d], "options": _options(d)}
                    for d in settings["dimensions"]
                ]
            }
        if self.task.kind == "ratings":
            return {"ratings": [(s, s.keys()) for s in task_scales(self.task)]}
        if self.task.kind == "interpretability":
            return {"descriptions": settings["descriptions"]}
        return {"themes": offered_themes(settings, themes_used(answers)), "codebook": settings.get("codebook"),
                "no_code": settings.get("no_code")}

    def units(self, request: Request, coder: str) -> HTMLResponse:
        order = self.store.coder_order(self.task, coder)
        answers = self.store.answers(self.task, coder)
        status = {a.position: a.status for a in answers}
        rows = [(number, status.get(p, "open")) for number, p in enumerate(order, start=1)]
        done = progress(order, answers)
        return self._render(
            request,
            "annotate_units.html.j2",
            200,
            coder=coder,
            rows=rows,
            progress=done,
            completion=self._completion() if done.done == done.total else None,
            delay=COMPLETION_DELAY,
        )

    def _completion(self) -> dict | None:
        """Where a participant goes when done, and the code to give the platform."""
        url, code = self.fielding.get("completion_url"), self.fielding.get("completion_code")
        if not url and not code:
            return None
        return {"url": url, "code": code}

    def _render(self, request: Request, template: str, status_code: int, **context) -> HTMLResponse:
        html = (
            template_environment()
            .get_template(template)
            .render(
                task={"name": self.task.name, "kind": self.task.kind, "size": len(self.task.units)},
                links_only=bool(self.fielding.get("links_only")),
                nonce=request.state.nonce,
                **context,
            )
        )
        return HTMLResponse(html, status_code=status_code)


def _position(order: Sequence[int], number: int) -> int:
    """The unit position shown as number ``number`` (1-based) in a coder's order."""
    if not 1 <= number <= len(order):
        raise HTTPException(404, f"this task has units 1 to {len(order)}")
    return order[number - 1]


def _options(dimension: str) -> list[dict]:
    """The codes of a scale with their labels and keys, code 0 first."""
    labels = scale_labels(dimension)
    return [
        {"code": code, "label": label, "key": key}
        for code, (label, key) in enumerate(zip(labels, SHORTCUTS[dimension], strict=True))
    ]


def image_url(item_id: str) -> str:
    """``/image/<id>`` with every special character escaped, ``/`` included."""
    return "/image/" + quote(item_id, safe="")


def _page_policy(request: Request, nonce: str) -> str:
    """Only the page's own script and style run; images come from the app."""
    return f"img-src 'self'; style-src 'nonce-{nonce}'; script-src 'nonce-{nonce}'"


async def _form(request: Request) -> dict[str, str]:
    """A URL-encoded form as one value per field (no multipart: answers are short text)."""
    body = await request.body()
    if len(body) > MAX_FORM_BYTES:
        raise HTTPException(413, "form too large")
    fields = parse_qs(body.decode("utf-8", errors="replace"), keep_blank_values=True)
    return {name: values[-1] for name, values in fields.items()}


def _redirect(url: str) -> RedirectResponse:
    return RedirectResponse(url, status_code=303)


@functools.lru_cache(maxsize=128)
def _jpeg(path: str, mtime_ns: int, side: int) -> bytes:
    """The picture as a small upright JPEG; keyed on mtime so an edited file is re-read."""
    return jpeg_bytes(downscale(open_image(path), side))
