"""The REST API on a timeline the real pipeline filled from the front-door scene.

Ground truth (tests/fixtures/scene/scene.json): doorbell 12.0–14.06 s, label "PRIORITY MAIL"
fully visible 8.8–20.0 s at [376, 206, 575, 224], speech 15.0–22.65 s.
"""

from __future__ import annotations

import io
from collections.abc import Iterator
from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from scenewatch.api.app import create_app
from scenewatch.runtime.server import SourceManager
from tests.api.serving_helpers import PASSWORD, SCENE, make_config


@pytest.fixture(scope="module")
def app_client(scene_db: Path) -> Iterator[TestClient]:
    app = create_app(make_config(scene_db, serve={"login_attempts": 3, "login_window": 60}))
    with TestClient(app) as client:
        yield client


@pytest.fixture(scope="module")
def client(app_client: TestClient) -> TestClient:
    """A client logged in with the admin password (session cookie)."""
    r = app_client.post("/api/auth/login", json={"password": PASSWORD})
    assert r.status_code == 200, r.text
    return app_client


@pytest.fixture(scope="module")
def source_id(client: TestClient) -> str:
    sources = client.get("/api/sources").json()
    assert len(sources) == 1 and sources[0]["uri"].endswith("scene.mp4")
    return str(sources[0]["id"])


def _anon(client: TestClient) -> TestClient:
    return TestClient(client.app)


# ------------------------------------------------------------------------- auth
def test_every_api_route_needs_auth(client: TestClient) -> None:
    anon = _anon(client)
    spec = client.get("/api/openapi.json").json()
    public = {"/api/health", "/api/auth/login", "/api/auth/logout", "/api/auth/me"}
    checked = 0
    for path, ops in spec["paths"].items():
        if path in public:
            continue
        url = path.replace("{source_id}", "x").replace("{event_id}", "1").replace("{observation_id}", "1") \
            .replace("{token_id}", "1")
        for method in ops:
            r = anon.request(method.upper(), url)
            assert r.status_code == 401, (method, path, r.status_code)
            assert "authentication required" in r.json()["detail"]
            checked += 1
    assert checked >= 20
    assert anon.get("/metrics").status_code == 401
    assert anon.get("/", follow_redirects=False).headers["location"] == "/login"
    assert anon.get("/api/health").json()["status"] == "ok"


def test_login_wrong_password_then_rate_limited(client: TestClient) -> None:
    other = TestClient(client.app, client=("203.0.113.7", 5000))
    for _ in range(3):
        r = other.post("/api/auth/login", json={"password": "nope"})
        assert r.status_code == 401 and r.json()["detail"] == "wrong password"
    r = other.post("/api/auth/login", json={"password": PASSWORD})  # even the right one, until the window ends
    assert r.status_code == 429 and int(r.headers["retry-after"]) >= 1
    assert _anon(client).post("/api/auth/login", json={"password": PASSWORD}).status_code == 200  # other client


def test_tokens_create_use_revoke(client: TestClient) -> None:
    created = client.post("/api/tokens", json={"name": "home assistant"})
    assert created.status_code == 201
    token = created.json()["token"]
    anon = _anon(client)
    ok = anon.get("/api/events", headers={"Authorization": f"Bearer {token}"})
    assert ok.status_code == 200
    listed = client.get("/api/tokens").json()
    assert all("token" not in t for t in listed) and any(t["name"] == "home assistant" for t in listed)
    assert anon.get("/api/events", headers={"Authorization": f"Bearer {token}x"}).status_code == 401
    assert anon.get("/api/events", headers={"Authorization": "Bearer "}).status_code == 401
    assert anon.get("/api/events", headers={"Authorization": "Basic Zm9vOmJhcg=="}).status_code == 401
    assert client.delete(f"/api/tokens/{created.json()['id']}").json()["revoked"] is True
    assert anon.get("/api/events", headers={"Authorization": f"Bearer {token}"}).status_code == 401
    assert client.delete("/api/tokens/999999").status_code == 404


def test_security_headers_and_no_cors(client: TestClient) -> None:
    r = client.get("/api/events", headers={"Origin": "https://evil.example"})
    assert r.headers["x-content-type-options"] == "nosniff"
    assert r.headers["x-frame-options"] == "DENY"
    assert "default-src 'self'" in r.headers["content-security-policy"]
    assert "access-control-allow-origin" not in r.headers
    pre = client.options("/api/events", headers={"Origin": "https://evil.example",
                                                 "Access-Control-Request-Method": "GET"})
    assert "access-control-allow-origin" not in pre.headers


def test_body_too_large(client: TestClient) -> None:
    r = client.post("/api/ask", content=b"{" + b" " * (2 << 20) + b"}", headers={"Content-Type": "application/json"})
    assert r.status_code == 413


# ----------------------------------------------------------------- observations
def test_observations_cursor_pages_cover_everything_once(client: TestClient, source_id: str) -> None:
    full = client.get("/api/observations", params={"limit": 1000}).json()
    assert full["next_cursor"] is None and len(full["items"]) >= 5
    seen, cursor = [], None
    while True:
        params = {"limit": 2, **({"cursor": cursor} if cursor else {})}
        page = client.get("/api/observations", params=params).json()
        seen += [o["id"] for o in page["items"]]
        cursor = page["next_cursor"]
        if cursor is None:
            break
    assert seen == [o["id"] for o in full["items"]]
    starts = [o["start"] for o in full["items"]]
    assert starts == sorted(starts)


def test_observation_filters_match_ground_truth(client: TestClient, source_id: str) -> None:
    text = client.get("/api/observations", params={"text": "priority mail"}).json()["items"]
    assert text and text[0]["kind"] == "text" and "PRIORITY" in text[0]["text"]
    assert abs(text[0]["start"] - 8.8) < 1.0 and abs(text[0]["end"] - 20.0) < 1.0
    x1, y1, x2, y2 = text[0]["box"]
    assert abs(x1 - 376) < 25 and abs(y1 - 206) < 25 and abs(x2 - 575) < 25 and abs(y2 - 224) < 25
    sounds = client.get("/api/observations", params={"kind": "sound", "source_id": source_id}).json()["items"]
    assert sounds and all(o["kind"] == "sound" for o in sounds)
    assert all(o["start"] < 14.2 + 0.5 and o["end"] > 12.0 - 0.5 for o in sounds)  # all within the doorbell
    window = client.get("/api/observations", params={"since": 15, "until": 16, "kind": "speech"}).json()["items"]
    assert len(window) == 1 and window[0]["text"].startswith("And so my fellow Americans")
    none = client.get("/api/observations", params={"since": 25, "until": 29, "kind": "speech"}).json()["items"]
    assert none == []
    one = client.get(f"/api/observations/{text[0]['id']}").json()
    assert one["id"] == text[0]["id"]


@pytest.mark.parametrize(("params", "status", "words"), [
    ({"limit": 10**9}, 422, "limit"),
    ({"limit": 0}, 422, "limit"),
    ({"since": -1}, 422, "since"),
    ({"since": 20, "until": 10}, 400, "before since"),
    ({"since": "nan"}, 422, "since"),
    ({"cursor": "not-a-cursor"}, 400, "invalid cursor"),
    ({"kind": "unicorn"}, 400, "unknown kind"),
    ({"min_confidence": 2}, 422, "min_confidence"),
])
def test_observations_bad_input(client: TestClient, params: dict, status: int, words: str) -> None:
    r = client.get("/api/observations", params=params)
    assert r.status_code == status, r.text
    assert words in r.json()["detail"]


def test_unknown_ids_are_404(client: TestClient) -> None:
    for url in ("/api/observations/987654", "/api/events/987654", "/api/sources/nope",
                "/api/media/nope/frame?t=1", "/api/media/observations/987654/thumbnail"):
        r = client.get(url)
        assert r.status_code == 404, url
        assert "no " in r.json()["detail"]
    assert client.get("/api/observations/abc").status_code == 422
    assert client.get("/api/observations/-3").status_code == 422


# ---------------------------------------------------------------------- events
def test_events_review_flow(client: TestClient) -> None:
    items = client.get("/api/events").json()["items"]
    doorbell = [e for e in items if "doorbell" in e["rule"]]
    assert doorbell, [e["rule"] for e in items]
    e = doorbell[0]
    assert abs(e["start"] - 12.0) < 0.6 and e["state"] == "new"
    assert client.post(f"/api/events/{e['id']}/ack").json()["state"] == "reviewed"
    assert [x["id"] for x in client.get("/api/events", params={"state": "reviewed"}).json()["items"]] == [e["id"]]
    fp = client.post(f"/api/events/{e['id']}/false-positive").json()
    assert fp["false_positive"] is True
    hidden = client.get("/api/events", params={"include_false_positives": False}).json()["items"]
    assert e["id"] not in [x["id"] for x in hidden]
    back = client.patch(f"/api/events/{e['id']}", json={"state": "new", "false_positive": False, "note": "real"})
    assert back.json()["state"] == "new" and back.json()["note"] == "real"


def test_events_bad_input(client: TestClient) -> None:
    eid = client.get("/api/events").json()["items"][0]["id"]
    bad = client.patch(f"/api/events/{eid}", content=b"{not json", headers={"Content-Type": "application/json"})
    assert bad.status_code == 422 and "JSON" in bad.json()["detail"]
    assert client.patch(f"/api/events/{eid}", json={"state": "done"}).status_code == 422
    assert client.patch(f"/api/events/{eid}", json={"note": "x" * 3000}).status_code == 422
    assert client.get("/api/events", params={"limit": 5000}).status_code == 422
    assert client.post("/api/events/0/ack").status_code == 422
    page = client.get("/api/events", params={"limit": 1}).json()
    assert len(page["items"]) == 1 and page["next_cursor"]
    nxt = client.get("/api/events", params={"limit": 1, "cursor": page["next_cursor"]}).json()["items"]
    assert nxt and nxt[0]["id"] < page["items"][0]["id"]


# --------------------------------------------------------- search, ask, report
def test_search_ask_report(client: TestClient, source_id: str) -> None:
    moments = client.get("/api/search", params={"q": "PRIORITY MAIL"}).json()
    assert moments[0]["kind"] == "text" and abs(moments[0]["start"] - 8.8) < 1.0
    answer = client.post("/api/ask", json={"question": "did the doorbell ring?"}).json()
    assert answer["answer"].startswith("Yes")
    assert any(abs(ev["start"] - 12.0) < 0.6 and ev["source_id"] == source_id for ev in answer["evidence"])
    report = client.get("/api/report", params={"since": 0, "until": 30}).json()
    assert any("doorbell" in e["rule"] for s in report["sources"] for e in s["events"])
    assert client.get("/api/search", params={"q": ""}).status_code == 422
    assert client.get("/api/search", params={"q": "x", "since": 9, "until": 1}).status_code == 400
    assert client.post("/api/ask", json={"question": ""}).status_code == 422
    assert client.post("/api/ask", json={"q": "wrong field"}).status_code == 422
    assert client.post("/api/ask", content=b"[1,", headers={"Content-Type": "application/json"}).status_code == 422
    assert client.get("/api/report", params={"since": 10, "until": 5}).status_code == 400


# ----------------------------------------------------------------------- media
def test_frame_at_time_with_boxes(client: TestClient, source_id: str) -> None:
    from PIL import Image

    r = client.get(f"/api/media/{source_id}/frame", params={"t": 10})
    assert r.status_code == 200 and r.headers["content-type"] == "image/jpeg"
    img = Image.open(io.BytesIO(r.content)).convert("RGB")
    assert img.size == (640, 360)
    plain = Image.open(io.BytesIO(client.get(f"/api/media/{source_id}/frame",
                                             params={"t": 10, "boxes": False}).content)).convert("RGB")
    # the text box (yellow) is drawn around the label only when boxes are on
    text = client.get("/api/observations", params={"text": "priority"}).json()["items"][0]
    x, y = int(text["box"][0]) + 1, int((text["box"][1] + text["box"][3]) / 2)
    r_, g_, b_ = img.getpixel((x, y))
    assert r_ > 180 and g_ > 150 and b_ < 100, (r_, g_, b_)
    assert plain.getpixel((x, y)) != img.getpixel((x, y))
    latest = client.get(f"/api/media/{source_id}/latest", params={"width": 320})
    assert Image.open(io.BytesIO(latest.content)).size == (320, 180)
    thumb = client.get(f"/api/media/observations/{text['id']}/thumbnail")
    assert thumb.status_code == 200 and thumb.content[:2] == b"\xff\xd8"


@pytest.mark.parametrize("path", ["../scene.db", "../../etc/passwd", "/etc/passwd", "a/../../x",
                                  "%2e%2e/scene.db", "..\\scene.db", "x\x00y"])
def test_media_paths_never_escape(client: TestClient, path: str) -> None:
    r = client.get("/api/media/thumbnail", params={"path": path})
    assert r.status_code in (400, 404), (path, r.status_code)
    assert r.headers["content-type"].startswith("application/json")


def test_media_thumbnail_inside_media_dir(client: TestClient, scene_db: Path) -> None:
    media = scene_db.with_suffix(".media")
    (media / "probe").mkdir(parents=True, exist_ok=True)
    (media / "probe" / "t.jpg").write_bytes(b"\xff\xd8\xff\xe0fake")
    assert client.get("/api/media/thumbnail", params={"path": "probe/t.jpg"}).content.startswith(b"\xff\xd8")
    assert client.get("/api/media/thumbnail", params={"path": "probe/none.jpg"}).status_code == 404


def test_clip_cut_by_time(client: TestClient, source_id: str) -> None:
    import av

    r = client.get(f"/api/media/{source_id}/clip", params={"start": 12, "end": 14})
    assert r.status_code == 200 and r.headers["content-type"] == "video/mp4"
    with av.open(io.BytesIO(r.content)) as c:
        assert abs(float(c.duration) / 1e6 - 2.0) < 0.3
        assert c.streams.video and c.streams.audio
    assert client.get(f"/api/media/{source_id}/clip", params={"start": 14, "end": 12}).status_code == 400
    assert client.get(f"/api/media/{source_id}/clip", params={"start": -1, "end": 2}).status_code == 422
    too_long = client.get(f"/api/media/{source_id}/clip", params={"start": 0, "end": 10_000})
    assert too_long.status_code == 400 and "limited" in too_long.json()["detail"]
    assert client.get(f"/api/media/{source_id}/clip", params={"start": 100, "end": 110}).status_code == 404
    assert client.get(f"/api/media/{source_id}/frame", params={"t": 100}).status_code == 404
    video = client.get(f"/api/media/{source_id}/video", headers={"Range": "bytes=0-99"})
    assert video.status_code == 206 and len(video.content) == 100


# ---------------------------------------------------------- stream, metrics
def test_sse_stream_replays_and_ends(client: TestClient) -> None:
    ids = sorted(e["id"] for e in client.get("/api/events").json()["items"])
    r = client.get("/api/stream", params={"after_event": 0, "observations": False, "max_seconds": 1})
    assert r.status_code == 200 and r.headers["content-type"].startswith("text/event-stream")
    got = [int(line[5:]) for line in r.text.splitlines() if line.startswith("id: e")]
    assert got == ids
    assert client.get("/api/stream", params={"max_seconds": 0}).status_code == 422


def test_metrics_and_health(client: TestClient) -> None:
    client.get("/api/events")
    text = client.get("/metrics").text
    assert 'scenewatch_http_requests_total{method="GET",route="/api/events",status="200"}' in text
    assert 'scenewatch_rows{table="observations"}' in text


# --------------------------------------------------------------------- sources
def test_sources_without_workers(client: TestClient, source_id: str) -> None:
    row = client.get(f"/api/sources/{source_id}").json()
    assert row["status"] == "done" and abs(row["processed_until"] - 30.0) < 0.5
    assert client.post("/api/sources", json={"uri": str(SCENE)}).status_code == 503
    assert client.delete(f"/api/sources/{source_id}").status_code == 503


def test_sources_added_and_removed_at_run_time(scene_db: Path) -> None:
    config = make_config(scene_db)
    manager = SourceManager(config)
    app = create_app(config, manager=manager)
    with TestClient(app) as client:
        client.post("/api/auth/login", json={"password": PASSWORD})
        assert client.post("/api/sources", json={}).status_code == 422
        assert client.post("/api/sources", json={"uri": "x" * 5000}).status_code == 422
        missing = client.post("/api/sources", json={"uri": "/nonexistent/clip.mp4"})
        assert missing.status_code == 422 and "clip.mp4" in missing.json()["detail"]
        added = client.post("/api/sources", json={"uri": str(SCENE)})  # already ingested: finishes at once
        assert added.status_code == 202
        live = client.post("/api/sources", json={"uri": "rtsp://127.0.0.1:9/none"})
        assert live.status_code == 202 and live.json()["live"] is True
        import time

        deadline = time.time() + 30
        while time.time() < deadline:
            states = {s.uri: s for s in manager.statuses()}
            if states[str(SCENE)].state == "done" and states["rtsp://127.0.0.1:9/none"].last_error:
                break
            time.sleep(0.2)
        assert states[str(SCENE)].state == "done"
        assert states["rtsp://127.0.0.1:9/none"].last_error
        listed = client.get("/api/sources").json()
        assert any(s["uri"] == "rtsp://127.0.0.1:9/none" and s["worker"]["last_error"] for s in listed)
        sid = next(s["id"] for s in listed if s["uri"] == str(SCENE))
        removed = client.delete(f"/api/sources/{sid}").json()
        assert removed["stopped"] is True
        assert str(SCENE) not in {s.uri for s in manager.statuses()}
        from scenewatch.runtime import queries, service

        with service.open_store(config) as store:  # run-time sources survive a restart until removed
            assert queries.served_sources(store) == ["rtsp://127.0.0.1:9/none"]
        manager.remove("rtsp://127.0.0.1:9/none")
        assert manager.statuses() == []
        with service.open_store(config) as store:
            assert queries.served_sources(store) == []


def test_upload_is_size_limited_and_type_checked(tmp_path: Path) -> None:
    import shutil as _shutil

    db = tmp_path / "up.db"
    config = make_config(db, serve={"max_upload_mb": 1.0})
    manager = SourceManager(config)
    app = create_app(config, manager=manager)
    data = SCENE.read_bytes()
    assert 0 < len(data) < 1e6
    try:
        with TestClient(app) as client:
            client.post("/api/auth/login", json={"password": PASSWORD})
            video = {"Content-Type": "video/mp4"}
            ok = client.post("/api/sources/upload", params={"filename": "door.mp4"}, content=data, headers=video)
            assert ok.status_code == 202, ok.text
            assert ok.json()["bytes"] == len(data)
            stored = Path(ok.json()["uri"])
            assert stored.is_file() and stored.resolve().is_relative_to(db.with_suffix(".media").resolve())
            fake = client.post("/api/sources/upload", params={"filename": "x.mp4"}, content=b"not a video" * 100,
                               headers=video)
            assert fake.status_code == 415 and "not a readable" in fake.json()["detail"]
            exe = client.post("/api/sources/upload", params={"filename": "x.sh"}, content=b"#!/bin/sh", headers=video)
            assert exe.status_code == 415 and "unsupported file type" in exe.json()["detail"]
            html = client.post("/api/sources/upload", params={"filename": "x.mp4"}, content=data,
                               headers={"Content-Type": "text/html"})
            assert html.status_code == 415
            big = client.post("/api/sources/upload", params={"filename": "big.mp4"}, content=data * 6, headers=video)
            assert big.status_code == 413 and "limited to 1 MB" in big.json()["detail"]
            empty = client.post("/api/sources/upload", params={"filename": "e.mp4"}, content=b"", headers=video)
            assert empty.status_code == 400
            leftovers = [p.name for p in (db.with_suffix(".media") / "uploads").iterdir()]
            assert leftovers == [stored.name]  # rejected uploads leave nothing behind
    finally:
        manager.shutdown(timeout=60)
        _shutil.rmtree(tmp_path, ignore_errors=True)
