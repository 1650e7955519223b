"""``semclust explore``: a local web app over one study: map, galleries, search, failures, edits.

Security, for an app that shows untrusted text and images on a researcher's machine:
it listens on 127.0.0.1 by default and checks the ``Host`` header (DNS rebinding);
images and thumbnails are looked up by item id in the run, so no path from a request
reaches the file system; pages are autoescaped Jinja2 and the scripts insert data as
text only; every change is a POST that must come from the app's own origin.
"""

from __future__ import annotations

import json
import logging
import re
import threading
from collections.abc import Sequence
from contextlib import asynccontextmanager
from pathlib import Path
from urllib.parse import quote

import pandas as pd
from fastapi import FastAPI, HTTPException, Request
from fastapi.responses import FileResponse, HTMLResponse, JSONResponse, RedirectResponse, Response

from semclust.core.errors import SemclustError
from semclust.core.imageio import ImageReadError, downscale, jpeg_bytes, open_image
from semclust.core.web_security import secure
from semclust.exploration.edits import describe_edit
from semclust.exploration.search import SearchIndex
from semclust.exploration.thumbs import thumbnail
from semclust.exploration.view import RunView
from semclust.stages.interactive_map import map_js, map_payload, plotly_js_path
from semclust.stages.report import (
    ANALYSIS_FOLDER,
    analysis_context,
    template_environment,
    theme_tree,
)
from semclust.study.hierarchy import load_hierarchy
from semclust.study.runs import Run

log = logging.getLogger(__name__)

PAGE_SIZE = 120
FAILURES_SHOWN = 5000  # the page lists this many; failures.csv has them all
FULL_SIDE = 2048
MAX_BODY_BYTES = 4_000_000  # a lasso over 100k ids is about 1.5 MB of JSON


class Explorer:
    """The app's state: the study, the run on screen, its search index; one lock for edits."""

    def __init__(self, study_folder: Path, run_id: str):
        from semclust.study.workspace import Study

        self.study = Study(study_folder)
        self.lock = threading.Lock()
        self.view: RunView
        self.index: SearchIndex | None = None
        self.open(run_id)

    def open(self, run_id: str) -> None:
        run = Run.load(self.study.folder, run_id)
        self.view = RunView(self.study.folder, run, self.study.items())
        if self.index is not None:
            self.index.close()
        self.index = SearchIndex(self.study.folder, self.view.table)

    def close(self) -> None:
        if self.index is not None:
            self.index.close()
        self.study.close()


def create_app(study: str | Path, run: str = "latest", *,
               allowed_hosts: Sequence[str] | None = ("127.0.0.1", "localhost")) -> FastAPI:
    """The explore app for ``run`` of ``study`` (any run can be opened from the Runs page)."""
    # loaded now, so a missing run is an error before anything listens, and serving starts at once
    state: dict[str, Explorer] = {"x": Explorer(Path(study), run)}

    @asynccontextmanager
    async def lifespan(_: FastAPI):
        try:
            yield
        finally:
            state["x"].close()

    app = FastAPI(title="semclust explore", lifespan=lifespan, docs_url=None, redoc_url=None,
                  openapi_url=None)
    secure(app, _page_policy, allowed_hosts)
    pages = template_environment()

    def x() -> Explorer:
        return state["x"]

    def render(request: Request, name: str, **context) -> HTMLResponse:
        view = x().view
        html = pages.get_template(name).render(nonce=request.state.nonce, run=view.run, header=view.header(),
                                               clusters=view.clusters, columns=view.input_columns(), **context)
        return HTMLResponse(html)

    @app.get("/", response_class=HTMLResponse)
    def map_page(request: Request) -> HTMLResponse:
        tree = load_hierarchy(x().view.run)
        return render(request, "explore_map.html.j2", has_plotly=plotly_js_path() is not None,
                      themes=theme_tree(tree) if tree is not None else [])

    @app.get("/cluster/{number}", response_class=HTMLResponse)
    def cluster_page(request: Request, number: int) -> HTMLResponse:
        info = _or_404(lambda: x().view.cluster(number))
        return render(request, "explore_cluster.html.j2", info=info, page_size=PAGE_SIZE)

    @app.get("/search", response_class=HTMLResponse)
    def search_page(request: Request, q: str = "") -> HTMLResponse:
        view = x().view
        hits = x().index.search(q, limit=500) if q.strip() else []
        rows = [_hit(view, i, snippet) for i, snippet in hits if i in view.table.index]
        return render(request, "explore_search.html.j2", query=q, hits=rows)

    @app.get("/failures", response_class=HTMLResponse)
    def failures_page(request: Request) -> HTMLResponse:
        failures = x().view.failures
        return render(request, "explore_failures.html.j2", failures=failures.head(FAILURES_SHOWN).to_dict("records"),
                      n_failures=len(failures))

    @app.get("/codes", response_class=HTMLResponse)
    def codes_page(request: Request) -> HTMLResponse:
        from semclust.study.seeded import codes_report

        run = x().view.run
        if "codebook" not in run.config:
            raise HTTPException(404, f"run {run.id} was not seeded with a codebook")
        return render(request, "explore_codes.html.j2", codes=codes_report(run))

    @app.get("/failures.csv")
    def failures_csv() -> Response:
        return Response(x().view.failures.to_csv(index=False), media_type="text/csv",
                        headers={"Content-Disposition": 'attachment; filename="failures.csv"'})

    @app.get("/findings", response_class=HTMLResponse)
    def findings_page(request: Request) -> HTMLResponse:
        """The run's ``semclust analyze`` plots and differences, beside the galleries."""
        return render(request, "explore_findings.html.j2",
                      analysis=analysis_context(x().view.run.folder / ANALYSIS_FOLDER))

    @app.get("/runs", response_class=HTMLResponse)
    def runs_page(request: Request) -> HTMLResponse:
        runs = []
        for row in x().study.store.runs().to_dict("records"):
            config = json.loads(row["config"])
            runs.append({"id": row["id"], "created": row["created_at"], "parent": config.get("parent_run"),
                         "edits": [describe_edit(e) for e in config.get("edits", [])]})
        return render(request, "explore_runs.html.j2", runs=runs[::-1])

    @app.get("/report")
    def report() -> Response:
        path = x().view.run.folder / "report.html"
        if not path.exists():  # e.g. a run refined with --no-report: write it now
            from semclust.study.pipeline import report_run

            _locked(x(), lambda: report_run(x().view.run))
        return FileResponse(path, media_type="text/html")

    @app.get("/galleries/{page}")
    def report_gallery(page: str) -> Response:
        """The report's links to its gallery pages lead to the app's own galleries."""
        match = re.fullmatch(r"cluster-(\d+)\.html|(outliers)\.html|index\.html", page)
        if match is None:
            raise HTTPException(404, "no such page")
        target = "/cluster/-1" if match.group(2) else f"/cluster/{match.group(1)}" if match.group(1) else "/"
        return RedirectResponse(target, status_code=303)

    @app.get("/api/map")
    def api_map(col: str | None = None, val: str | None = None) -> JSONResponse:
        view = x().view
        coords = view.run.coords
        if coords is None or len(coords) != len(view.clustered):
            raise HTTPException(404, "this run has no 2-D map (coords.npy)")
        clusters = [(c.cluster, c.title, c.colour) for c in view.clusters]
        payload = map_payload(coords, view.labels, view.clustered["id"].tolist(), clusters)
        if col:
            keep = _or_404(lambda: view.filter_mask(view.clustered, col, val))
            for key in ("x", "y", "c", "id"):
                payload[key] = [v for v, k in zip(payload[key], keep, strict=True) if k]
        return JSONResponse(payload)

    @app.get("/api/cluster/{number}")
    def api_cluster(number: int, offset: int = 0, limit: int = PAGE_SIZE, sort: str = "centroid",
                    column: str | None = None, desc: bool = False, col: str | None = None,
                    val: str | None = None) -> JSONResponse:
        view = x().view
        rows = _or_404(lambda: view.members(number, sort, column, desc, col, val))
        page = rows.iloc[max(0, offset): max(0, offset) + min(max(1, limit), 1000)]
        return JSONResponse({"total": len(rows), "offset": offset,
                             "items": [_item_json(view, r) for _, r in page.iterrows()]})

    @app.get("/api/values/{column}")
    def api_values(column: str) -> JSONResponse:
        return JSONResponse(x().view.column_values(column))

    @app.get("/api/item/{item_id:path}")
    def api_item(item_id: str) -> JSONResponse:
        view = x().view
        row = _or_404(lambda: view.item(item_id))
        return JSONResponse(_item_json(view, row, full=True))

    @app.get("/thumb/{item_id:path}")
    def thumb(item_id: str) -> Response:
        row = _or_404(lambda: x().view.item(item_id))
        if not isinstance(row.get("sha256"), str):
            raise HTTPException(404, "this item has no readable image")
        try:
            data = thumbnail(x().study.folder, row["sha256"], str(row["image"]))
        except (OSError, ImageReadError) as exc:
            log.warning("no thumbnail for %s: %s", item_id, exc)
            raise HTTPException(404, "the image cannot be read") from None
        return Response(data, media_type="image/webp", headers={"Cache-Control": "private, max-age=86400"})

    @app.get("/image/{item_id:path}")
    def image(item_id: str) -> Response:
        row = _or_404(lambda: x().view.item(item_id))
        try:
            data = jpeg_bytes(downscale(open_image(str(row["image"])), FULL_SIDE), quality=90)
        except (OSError, ImageReadError):
            raise HTTPException(404, "the image cannot be read") from None
        return Response(data, media_type="image/jpeg", headers={"Cache-Control": "private, max-age=3600"})

    @app.get("/static/plotly.min.js")
    def plotly_js() -> Response:
        path = plotly_js_path()
        if path is None:
            raise HTTPException(404, "plotly is not installed: pip install 'semclust[explore]'")
        return FileResponse(path, media_type="text/javascript", headers={"Cache-Control": "max-age=86400"})

    @app.get("/static/map.js")
    def map_script() -> Response:
        return Response(map_js(), media_type="text/javascript")

    @app.get("/favicon.ico")
    def favicon() -> Response:
        return Response(status_code=204)

    @app.post("/api/edit")
    async def edit(request: Request) -> JSONResponse:
        edits = (await _json(request)).get("edits")
        if not isinstance(edits, list) or not edits:
            raise HTTPException(400, "send {\"edits\": [...]}")
        return JSONResponse(await _in_thread(lambda: _refine(x(), edits)))

    @app.post("/api/open")
    async def open_run(request: Request) -> JSONResponse:
        run_id = str((await _json(request)).get("run", ""))
        await _in_thread(lambda: _locked(x(), lambda: x().open(run_id)))
        return JSONResponse({"run": x().view.id})

    @app.post("/api/export")
    async def export(request: Request) -> JSONResponse:
        from semclust.exploration.export import FORMATS, export_run

        formats = (await _json(request)).get("formats") or list(FORMATS)
        view = x().view
        out = x().study.folder / "exports" / view.id
        written = await _in_thread(lambda: export_run(view.run, out, formats))
        return JSONResponse({k: str(v) for k, v in written.items()})

    return app


def _refine(explorer: Explorer, edits: list) -> dict:
    from semclust.exploration.refine import refine_run

    def work():
        run = refine_run(explorer.study, explorer.view.run, edits)
        explorer.open(run.id)
        return {"run": run.id, "parent": run.config["parent_run"], "edits": [describe_edit(e) for e in run.config["edits"]]}

    return _locked(explorer, work)


def _locked(explorer: Explorer, work):
    with explorer.lock:
        try:
            return work()
        except SemclustError as exc:
            raise HTTPException(400, str(exc)) from None


async def _in_thread(work):
    import anyio

    return await anyio.to_thread.run_sync(work)


def _hit(view: RunView, item_id: str, snippet: str) -> dict:
    cluster = view.item(item_id)["cluster"]
    number = None if cluster is None or cluster is pd.NA or pd.isna(cluster) else int(cluster)
    return {"id": item_id, "cluster": number, "title": view.cluster_title(cluster), "snippet": snippet}


def _item_json(view: RunView, row, full: bool = False) -> dict:
    data = {"id": str(row["id"]), "cluster": None if row.isna()["cluster"] else int(row["cluster"]),
            "exemplar": bool(row.get("exemplar", False)), "description": _text(row.get("description")),
            "thumb": "/thumb/" + quote(str(row["id"]), safe=""), "image": "/image/" + quote(str(row["id"]), safe="")}
    if full:
        data["columns"] = {c: _text(row.get(c)) for c in view.input_columns()}
        data["cluster_title"] = view.cluster_title(row["cluster"])
        data["note"] = _text(row.get("note"))
    return data


def _text(value) -> str:
    if value is None or (not isinstance(value, str) and pd.isna(value)):
        return ""
    return str(value)


def _or_404(get):
    try:
        return get()
    except SemclustError as exc:
        raise HTTPException(404, str(exc)) from None


async def _json(request: Request) -> dict:
    body = await request.body()
    if len(body) > MAX_BODY_BYTES:
        raise HTTPException(413, "request too large")
    try:
        data = json.loads(body or b"{}")
    except ValueError:
        raise HTTPException(400, "the body must be JSON") from None
    if not isinstance(data, dict):
        raise HTTPException(400, "the body must be a JSON object")
    return data


def _page_policy(request: Request, nonce: str) -> str:
    """The page's own scripts plus eval, which plotly's WebGL map needs; data and blob images."""
    # report.html is a static page the pipeline wrote, with its scripts inline and no nonce
    scripts = "'unsafe-inline'" if request.url.path == "/report" else f"'self' 'nonce-{nonce}'"
    return (f"img-src 'self' data: blob:; style-src 'self' 'unsafe-inline'; "
            f"script-src {scripts} 'unsafe-eval'; connect-src 'self'; worker-src blob:")
