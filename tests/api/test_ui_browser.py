"""The web UI in real headless Chromium (Debian ``chromium`` driven by Python Playwright).

A real ``scenewatch serve`` process serves a timeline the pipeline filled from the front-door
scene; the browser logs in, sees the live tile and timeline lanes, searches and opens a result,
asks and clicks evidence (the video seeks, the box shows), and sees an event stored while the
page is open appear without a reload. Layout is checked at 390×844 and 1280×800; screenshots go
to tests/artifacts/. SIGTERM then stops the server cleanly.
"""

from __future__ import annotations

import os
import re
import shutil
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from scenewatch.memory.store import TimelineStore
from scenewatch.types import Event
from tests.api.serving_helpers import PASSWORD, SCENE, free_port

CHROMIUM = shutil.which("chromium") or "/usr/bin/chromium"
ARTIFACTS = Path(__file__).resolve().parents[1] / "artifacts"
FLAGS = ["--headless", "--no-sandbox", "--disable-gpu", "--no-first-run", "--disable-background-networking",
         "--disable-component-update", "--disable-sync"]
VIEWPORTS = {"phone": {"width": 390, "height": 844}, "desktop": {"width": 1280, "height": 800}}

pytestmark = pytest.mark.skipif(not Path(CHROMIUM).exists() and not os.environ.get("CI"),
                                reason="Debian chromium not installed (scripts/system-deps.sh)")


@pytest.fixture(scope="module")
def server(scene_db: Path, tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[str, subprocess.Popen[bytes]]]:
    port = free_port()
    cfg = tmp_path_factory.mktemp("serve") / "serve.yaml"
    cfg.write_text(f"sources: ['{SCENE}']\nconcepts: [package, doorbell]\nreasoner: {{backend: none}}\n"
                   f"store: {{path: '{scene_db}'}}\nserve: {{port: {port}, password: '{PASSWORD}'}}\n")
    env = {**os.environ, "SCENEWATCH_CONFIG": str(cfg)}
    proc = subprocess.Popen([sys.executable, "-m", "scenewatch.cli.main", "serve"], env=env,
                            stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
    base = f"http://127.0.0.1:{port}"
    deadline = time.time() + 60
    while time.time() < deadline:
        try:
            if httpx.get(f"{base}/api/health", timeout=1).status_code == 200:
                break
        except httpx.HTTPError:
            time.sleep(0.2)
    else:
        proc.kill()
        raise AssertionError(proc.communicate()[0].decode())
    yield base, proc
    if proc.poll() is None:
        proc.kill()


def _token(db: Path) -> str:
    from scenewatch.runtime import queries

    with TimelineStore(db) as store:
        return str(queries.create_token(store, "browser test")["token"])


def _no_horizontal_scroll(page) -> None:  # type: ignore[no-untyped-def]
    overflow = page.evaluate("document.documentElement.scrollWidth - window.innerWidth")
    assert overflow <= 1, f"page scrolls sideways by {overflow}px"


def _video_time(page) -> float:  # type: ignore[no-untyped-def]
    return float(page.evaluate("document.querySelector('#player').currentTime"))


def _poll(page, script: str, timeout: float = 10.0) -> None:  # type: ignore[no-untyped-def]
    """Wait until ``script`` is truthy (wait_for_function would need 'unsafe-eval', which the CSP forbids)."""
    deadline = time.time() + timeout
    while not page.evaluate(script):
        assert time.time() < deadline, f"timed out waiting for {script}"
        page.wait_for_timeout(100)


@pytest.mark.parametrize("viewport", list(VIEWPORTS))
def test_ui_flows(server: tuple[str, subprocess.Popen[bytes]], scene_db: Path, viewport: str) -> None:
    from playwright.sync_api import expect, sync_playwright

    base, _ = server
    token = _token(scene_db)
    ARTIFACTS.mkdir(exist_ok=True)
    shot = lambda page, name: page.screenshot(path=str(ARTIFACTS / f"ui-{viewport}-{name}.png"), full_page=True)  # noqa: E731
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, args=FLAGS)
        page = browser.new_page(viewport=VIEWPORTS[viewport])  # type: ignore[arg-type]
        try:
            page.goto(f"{base}/timeline")
            expect(page).to_have_url(f"{base}/login")
            page.fill("#password", "wrong")
            page.click("button[type=submit]")
            expect(page.locator("#login-error")).to_contain_text("wrong password")
            page.fill("#password", PASSWORD)
            page.click("button[type=submit]")
            expect(page).to_have_url(f"{base}/")

            # Live: the source's tile with a decoded latest frame
            tile = page.locator(".tile img").first
            expect(tile).to_be_visible()
            _poll(page, "document.querySelector('.tile img').naturalWidth > 0")
            expect(page.locator("#recent-events li").first).to_be_visible()
            _no_horizontal_scroll(page)
            shot(page, "live")

            # Timeline: lanes; clicking the text span seeks to it and draws the box
            page.click("#nav-timeline")
            span = page.locator('.lane[data-lane="text"] .span').first
            expect(span).to_be_visible()
            expect(page.locator('.lane[data-lane="sound"] .span').first).to_be_visible()
            expect(page.locator('.lane[data-lane="events"] .span').first).to_be_visible()
            label = httpx.get(f"{base}/api/observations", params={"text": "priority", "kind": "text"},
                              headers={"Authorization": f"Bearer {token}"}).json()["items"][0]
            look = label["payload"].get("best_time", label["start"])  # the moment the label was read best
            assert 8.0 <= look <= 20.0  # ground truth: the label is visible 8.8–20.0 s
            span.click()
            expect(page.locator("#box")).to_be_visible()
            assert abs(_video_time(page) - look) < 0.1
            expect(page.locator("#review-form")).to_be_visible()  # review the clicked span (issue #20)
            span_id = int(span.get_attribute("data-obs") or 0)
            expect(page.locator("#rv-status")).to_have_text(f"row #{span_id}")
            page.fill("#rv-text", "PRIORITY MAIL (checked)")
            page.click("#rv-save")
            expect(page.locator("#rv-status")).to_contain_text("corrected ✓")
            reviews = httpx.get(f"{base}/api/reviews", params={"target": "observation"},
                                headers={"Authorization": f"Bearer {token}"}).json()
            mine = [r for r in reviews if r["target_id"] == span_id][-1]
            assert mine["correction"]["text"] == "PRIORITY MAIL (checked)" and mine["correction"]["label"] is None
            _no_horizontal_scroll(page)
            shot(page, "timeline")

            # Search → result → timeline at that moment with the box
            page.click("#nav-search")
            page.fill("#q", "PRIORITY MAIL")
            page.click("#search-form button")
            result = page.locator("#results li").first
            expect(result).to_contain_text("PRIORITY MAIL")
            shot(page, "search")
            result.click()
            expect(page).to_have_url(re.compile(r"/timeline\?source=.+&obs=\d+"))
            expect(page.locator("#box")).to_be_visible()
            _poll(page, f"Math.abs(document.querySelector('#player').currentTime - {look}) < 0.1")

            # Ask → evidence chip seeks the video
            page.click("#nav-ask")
            page.fill("#question", "did the doorbell ring?")
            page.click("#ask-form button")
            expect(page.locator("#answer")).to_contain_text("Yes")
            chip = page.locator("#evidence .chip").first
            chip.click()
            _poll(page, "Math.abs(document.querySelector('#player').currentTime - 11.77) < 0.6")
            expect(page.locator("#box")).to_have_count(0)  # a sound has no box
            page.fill("#question", "what does the label say?")
            page.click("#ask-form button")
            expect(page.locator("#answer")).to_contain_text("PRIORITY MAIL")
            page.locator("#evidence .chip", has_text="PRIORITY MAIL").first.click()
            expect(page.locator("#box")).to_be_visible()  # the label's box over the video
            expect(page.locator("#box")).to_contain_text("PRIORITY MAIL")
            box, video = page.locator("#box").bounding_box(), page.locator("#player").bounding_box()
            assert box is not None and video is not None
            scale = video["width"] / 640  # the scene is 640×360
            x1, y1, x2, _ = label["box"]
            assert abs(box["x"] - (video["x"] + x1 * scale)) < 4 and abs(box["y"] - (video["y"] + y1 * scale)) < 4
            assert abs(box["width"] - (x2 - x1) * scale) < 8
            _poll(page, f"Math.abs(document.querySelector('#player').currentTime - {label['start']}) < 0.1")
            _no_horizontal_scroll(page)
            shot(page, "ask")

            # Events: an event stored while the page is open appears without reload
            page.click("#nav-events")
            expect(page.locator("#events li").first).to_be_visible()
            before = page.locator("#events li").count()
            with TimelineStore(scene_db) as store:
                sid = store.list_sources()[0]["id"]
                eid = store.add_event(Event(rule=f"ui-live-{viewport}", source_id=sid, start=25.0, end=26.0,
                                            title=f"ui-live-{viewport}: arrived", summary="stored while open"))
            expect(page.locator(f'#events li[data-event="{eid}"]')).to_contain_text("arrived", timeout=10_000)
            assert page.locator("#events li").count() == before + 1
            page.locator(f'#events li[data-event="{eid}"] button', has_text="Reviewed").click()
            expect(page.locator(f'#events li[data-event="{eid}"] .badge').first).to_have_text("reviewed")
            page.locator(f'#events li[data-event="{eid}"] button[data-verdict="wrong"]').click()
            expect(page.locator(f'#events li[data-event="{eid}"] .badge').first).to_have_text("false positive")
            _no_horizontal_scroll(page)
            shot(page, "events")

            # Tokens: create (shown once), then revoke (issue #19)
            page.click("#nav-tokens")
            page.fill("#token-name", f"browser {viewport}")
            page.click("#token-form button")
            secret = page.locator("#token-value")
            expect(secret).to_contain_text("sw_")
            value = secret.inner_text().strip()
            assert httpx.get(f"{base}/api/events", headers={"Authorization": f"Bearer {value}"}).status_code == 200
            row = page.locator("#tokens li", has_text=f"browser {viewport}")
            assert value not in row.inner_text()  # the list shows only a prefix
            page.once("dialog", lambda d: d.accept())
            row.locator("button", has_text="Revoke").click()
            expect(row.locator(".badge")).to_have_text("revoked")
            assert httpx.get(f"{base}/api/events", headers={"Authorization": f"Bearer {value}"}).status_code == 401
            _no_horizontal_scroll(page)
            shot(page, "tokens")
        finally:
            browser.close()


def test_sigterm_stops_cleanly(server: tuple[str, subprocess.Popen[bytes]]) -> None:
    base, proc = server
    assert httpx.get(f"{base}/api/health").json()["status"] == "ok"
    proc.send_signal(signal.SIGTERM)
    out, _ = proc.communicate(timeout=60)
    assert proc.returncode == 0, out.decode()
    assert b"stopping workers" in out
