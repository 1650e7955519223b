"""The security middleware both browser apps share (core/web_security): the same-origin rule,
the host check and the headers, checked once on the coding app and the explore app alike."""

from __future__ import annotations

import re
import secrets

import pytest
from fastapi.testclient import TestClient

from explore_corpus import make_study
from semclust.exploration.app import create_app as explore_app
from semclust.validation.annotate import AnnotationStore, load_task
from semclust.validation.annotate import create_app as annotate_app
from semclust.validation.sampling import SampleOptions, draw_sample

BASE = "http://127.0.0.1:8765"
HOSTS = ("127.0.0.1", "localhost")


@pytest.fixture(scope="module")
def built(tmp_path_factory):
    """One small clustered study with a pairs task: the explore app shows the run, the coding app the task."""
    study, run = make_study(tmp_path_factory.mktemp("web"), 40, n_images=6, k=3)
    sample = draw_sample("pairs", study.folder, run.id, SampleOptions(n=3, coders=("c1",)))
    with AnnotationStore(study.folder) as store:
        task = load_task(store, study.folder, next(p for p in sample if p.suffix == ".csv"))
    yield study, run, task
    study.close()


@pytest.fixture(params=["annotate", "explore"])
def app(request, built):
    """``(name, client, post)``: ``post(headers)`` sends the app's own state-changing request."""
    study, run, task = built
    if request.param == "annotate":
        made = annotate_app(study.folder, task.name, allowed_hosts=HOSTS)

        def post(client, headers):  # starts a coder: a new name each time
            return client.post("/start", data={"coder": f"c{secrets.token_hex(4)}"}, headers=headers)
    else:
        made = explore_app(study.folder, run.id, allowed_hosts=HOSTS)

        def post(client, headers):
            return client.post("/api/open", json={"run": run.id}, headers=headers)
    with TestClient(made, base_url=BASE) as client:
        yield request.param, client, lambda headers=None: post(client, headers or {})


@pytest.mark.parametrize("headers", [
    {"Origin": "http://evil.example"},
    {"Origin": "null"},  # a sandboxed frame or a privacy redirect
    {"Origin": "http://127.0.0.1:9999"},  # another app on the same machine
    {"Sec-Fetch-Site": "cross-site"},
    {"Sec-Fetch-Site": "same-site"},  # another port of 127.0.0.1 is the same site
    {"Sec-Fetch-Site": "cross-site", "Origin": BASE},  # the browser's own word decides
], ids=["origin", "null", "port", "cross-site", "same-site", "fetch-site-first"])
def test_cross_site_requests_that_change_state_are_refused(app, headers):
    _, _, post = app
    refused = post(headers)
    assert refused.status_code == 403 and refused.text == "cross-site request refused"
    assert refused.headers["X-Frame-Options"] == "DENY"  # a refusal carries the headers too


@pytest.mark.parametrize("headers", [
    {"Origin": BASE},
    {"Sec-Fetch-Site": "same-origin"},
    {"Sec-Fetch-Site": "none"},  # the user, not a page, made the request
    {"Sec-Fetch-Site": "same-origin", "Origin": "https://127.0.0.1:8765"},  # behind an HTTPS proxy
    {},  # no browser page: a script or curl, which could send any header it liked
], ids=["origin", "same-origin", "none", "https-proxy", "no-browser"])
def test_requests_from_the_apps_own_pages_pass(app, headers):
    _, _, post = app
    assert post(headers).status_code == 200


def test_a_request_naming_another_host_is_refused(app):
    """DNS rebinding: a page on evil.example that resolves to 127.0.0.1 still says its name."""
    _, client, _ = app
    assert client.get("/", headers={"Host": "evil.example"}).status_code == 400
    assert client.get("/", headers={"Host": "localhost:8765"}).status_code == 200


def test_every_answer_carries_the_security_headers_and_a_fresh_nonce(app):
    _, client, _ = app
    page, again, missing = client.get("/"), client.get("/"), client.get("/no/such/page")
    for response in (page, missing):
        assert response.headers["X-Content-Type-Options"] == "nosniff"
        assert response.headers["X-Frame-Options"] == "DENY"
        assert response.headers["Referrer-Policy"] == "same-origin"
        policy = response.headers["Content-Security-Policy"]
        assert policy.startswith("default-src 'none'; ")
        assert policy.endswith("form-action 'self'; base-uri 'none'; frame-ancestors 'none'")
    nonce = re.search(r"'nonce-([^']+)'", page.headers["Content-Security-Policy"]).group(1)
    assert nonce not in again.headers["Content-Security-Policy"]
    assert f'nonce="{nonce}"' in page.text  # the page runs its own script or style with it
    assert all(f'nonce="{nonce}"' in tag for tag in re.findall(r"<script[^>]*>", page.text))


def test_only_the_explore_app_lets_scripts_eval(app):
    """plotly's WebGL map needs eval; the coding app runs nothing but its nonce'd script and style."""
    name, client, _ = app
    policy = client.get("/").headers["Content-Security-Policy"]
    if name == "explore":
        assert "'unsafe-eval'" in re.search(r"script-src [^;]*", policy).group()
    else:
        assert "unsafe" not in policy
        assert re.search(r"style-src 'nonce-[^']+'; script-src 'nonce-[^']+'", policy)
