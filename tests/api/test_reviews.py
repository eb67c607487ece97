"""Review from the API (issue #20) and the API-token page (issue #19), on the real front-door timeline.

Ground truth (tests/fixtures/scene/scene.json): doorbell 12.0–14.06 s, label "PRIORITY MAIL" fully
visible 8.8–20.0 s at [376, 206, 575, 224]. Every review is stored beside the original: the event
or row the pipeline stored must read back unchanged after it.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient

from scenewatch.api.app import create_app
from tests.api.serving_helpers import PASSWORD, make_config


@pytest.fixture(scope="module")
def client(scene_db: Path) -> Iterator[TestClient]:
    with TestClient(create_app(make_config(scene_db))) as c:
        assert c.post("/api/auth/login", json={"password": PASSWORD}).status_code == 200
        yield c


def _doorbell_event(client: TestClient) -> dict[str, Any]:
    items = client.get("/api/events", params={"limit": 100}).json()["items"]
    return next(e for e in items if "doorbell" in e["rule"])


def _text_row(client: TestClient, words: str) -> dict[str, Any]:
    rows = client.get("/api/observations", params={"kind": "text", "text": words, "limit": 50}).json()["items"]
    assert rows, f"the pipeline read no text row with {words!r}"
    return rows[0]


def _reviews(client: TestClient, target: str) -> list[dict[str, Any]]:
    r = client.get("/api/reviews", params={"target": target})
    assert r.status_code == 200, r.text
    return list(r.json())


def test_event_marked_correct_then_wrong_keeps_the_event(client: TestClient) -> None:
    event = _doorbell_event(client)
    assert abs(event["start"] - 12.0) < 0.6
    before = {k: event[k] for k in ("rule", "title", "summary", "start", "end", "observation_ids", "payload")}

    ok = client.post(f"/api/reviews/events/{event['id']}", json={"verdict": "correct"})
    assert ok.status_code == 201, ok.text
    assert ok.json()["review"]["verdict"] == "correct"
    assert ok.json()["event"]["state"] == "reviewed" and ok.json()["event"]["false_positive"] is False

    wrong = client.post(f"/api/reviews/events/{event['id']}", json={"verdict": "wrong", "note": "a cat"}).json()
    assert wrong["event"]["false_positive"] is True and wrong["event"]["note"] == "a cat"
    mine = [r for r in _reviews(client, "event") if r["target_id"] == event["id"]]
    assert [r["verdict"] for r in mine] == ["correct", "wrong"]  # both kept, newest last
    assert mine[-1]["original"]["start"] == event["start"] and mine[-1]["original"]["title"] == event["title"]
    after = client.get(f"/api/events/{event['id']}").json()
    assert {k: after[k] for k in before} == before  # the fired event is untouched


def test_event_span_and_label_corrected_beside_the_original(client: TestClient) -> None:
    event = _doorbell_event(client)
    body = {"label": "Door knock", "start": 12.0, "end": 14.06, "box": [70, 48, 200, 318]}
    r = client.post(f"/api/reviews/events/{event['id']}", json=body)
    assert r.status_code == 201, r.text
    review = r.json()["review"]
    assert review["verdict"] == "corrected"
    assert review["correction"] == {"label": "Door knock", "start": 12.0, "end": 14.06,
                                    "box": [70.0, 48.0, 200.0, 318.0], "text": None}
    assert review["original"]["start"] == event["start"] and review["original"]["end"] == event["end"]
    assert r.json()["event"]["state"] == "reviewed" and r.json()["event"]["false_positive"] is False
    after = client.get(f"/api/events/{event['id']}").json()
    assert (after["start"], after["end"], after["title"]) == (event["start"], event["end"], event["title"])


def test_track_corrected_never_overwrites_the_row(client: TestClient) -> None:
    row = _text_row(client, "PRIORITY")
    assert "PRIORITY" in row["text"].upper() and 8.0 <= row["start"] <= 21.0
    truth = {"text": "PRIORITY MAIL", "start": 8.8, "end": 20.0, "box": [376, 206, 575, 224]}
    r = client.post(f"/api/reviews/observations/{row['id']}", json=truth)
    assert r.status_code == 201, r.text
    review = r.json()["review"]
    assert review["target"] == "observation" and review["verdict"] == "corrected"
    assert review["correction"]["text"] == "PRIORITY MAIL" and review["correction"]["box"] == [376, 206, 575, 224]
    assert review["original"]["text"] == row["text"] and review["original"]["start"] == row["start"]
    assert review["source_id"] == row["source_id"]
    stored = client.get(f"/api/observations/{row['id']}").json()
    assert {k: stored[k] for k in ("text", "label", "start", "end", "box")} == \
        {k: row[k] for k in ("text", "label", "start", "end", "box")}

    wrong = client.post(f"/api/reviews/observations/{row['id']}", json={"verdict": "wrong"})
    assert wrong.status_code == 201 and wrong.json()["review"]["verdict"] == "wrong"
    verdicts = [x["verdict"] for x in _reviews(client, "observation") if x["target_id"] == row["id"]]
    assert verdicts == ["corrected", "wrong"]


def test_answer_reviewed_and_corrected(client: TestClient) -> None:
    asked = client.post("/api/ask", json={"question": "did the doorbell ring?"}).json()
    assert asked["answer"].startswith("Yes")
    evidence = [e["observation_id"] for e in asked["evidence"] if e.get("observation_id")]
    base = {"question": "did the doorbell ring?", "answer": asked["answer"], "evidence": evidence}
    right = client.post("/api/reviews/answers", json={**base, "verdict": "correct"})
    assert right.status_code == 201, right.text
    fixed = client.post("/api/reviews/answers", json={**base, "text": "Yes, at 0:12."}).json()["review"]
    assert fixed["verdict"] == "corrected" and fixed["correction"]["text"] == "Yes, at 0:12."
    assert fixed["original"] == {"question": base["question"], "text": asked["answer"], "evidence": evidence}
    assert [r["verdict"] for r in _reviews(client, "answer")][-2:] == ["correct", "corrected"]


@pytest.mark.parametrize(("url", "body", "status", "words"), [
    ("/api/reviews/events/987654", {"verdict": "correct"}, 404, "no event"),
    ("/api/reviews/observations/987654", {"verdict": "wrong"}, 404, "no observation"),
    ("/api/reviews/events/{event}", {}, 400, "verdict"),
    ("/api/reviews/events/{event}", {"verdict": "correct", "label": "x"}, 400, "cannot also"),
    ("/api/reviews/events/{event}", {"start": 9.0, "end": 3.0}, 400, "before it starts"),
    ("/api/reviews/events/{event}", {"end": 0.5}, 400, "before it starts"),  # before the stored start
    ("/api/reviews/observations/{row}", {"box": [10, 10, 5, 20]}, 400, "box"),
    ("/api/reviews/observations/{row}", {"box": [1, 2, 3]}, 422, "box"),
    ("/api/reviews/observations/{row}", {"start": -1}, 422, "start"),
    ("/api/reviews/observations/{row}", {"verdict": "maybe"}, 422, "verdict"),
    ("/api/reviews/observations/{row}", {"label": ""}, 422, "label"),
    ("/api/reviews/answers", {"answer": "yes", "verdict": "correct"}, 422, "question"),
    ("/api/reviews/answers", {"question": "q", "answer": "a"}, 400, "verdict"),
])
def test_review_bad_input(client: TestClient, url: str, body: dict, status: int, words: str) -> None:
    url = url.format(event=_doorbell_event(client)["id"], row=_text_row(client, "PRIORITY")["id"])
    r = client.post(url, json=body)
    assert r.status_code == status, r.text
    assert words in r.json()["detail"]


def test_reviews_need_auth(client: TestClient) -> None:
    anon = TestClient(client.app)
    assert anon.post("/api/reviews/events/1", json={"verdict": "correct"}).status_code == 401
    assert anon.get("/api/reviews").status_code == 401
    assert anon.get("/tokens", follow_redirects=False).headers["location"] == "/login"


def test_tokens_page_and_flow(client: TestClient) -> None:
    page = client.get("/tokens")
    assert page.status_code == 200
    for marker in ('id="token-form"', 'id="token-value"', 'id="tokens"', 'id="nav-tokens"'):
        assert marker in page.text
    created = client.post("/api/tokens", json={"name": "ui page test"}).json()
    listed = client.get("/api/tokens").json()
    assert created["token"] not in str(listed)  # the secret is shown once, never listed
    assert TestClient(client.app).get("/api/events", headers={"Authorization": f"Bearer {created['token']}"}) \
        .status_code == 200
    assert client.delete(f"/api/tokens/{created['id']}").json()["revoked"] is True
    assert TestClient(client.app).get("/api/events", headers={"Authorization": f"Bearer {created['token']}"}) \
        .status_code == 401
