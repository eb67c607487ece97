"""API throughput and latency under bounded load while a live source is being watched.

Fills a timeline from tests/fixtures/scene/scene.mp4 with the real pipeline, then starts
``scenewatch serve`` on 127.0.0.1 watching a live HTTP MPEG-TS loop of the same scene (ffmpeg
``-stream_loop -1 -re``), and drives each route with a fixed number of concurrent clients for a
fixed time. Prints requests/s, p50 and p95 per route, and the worker's status.

    python -m benchmarks.api [--clients 4] [--seconds 8]
"""

from __future__ import annotations

import argparse
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

import httpx

ROOT = Path(__file__).resolve().parents[1]
SCENE = ROOT / "tests" / "fixtures" / "scene" / "scene.mp4"


def _free_port() -> int:
    import socket

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _load(client: httpx.Client, url: str, clients: int, seconds: float) -> dict[str, float]:
    latencies: list[float] = []
    errors = 0
    lock = threading.Lock()
    deadline = time.perf_counter() + seconds

    def worker() -> None:
        nonlocal errors
        while time.perf_counter() < deadline:
            t0 = time.perf_counter()
            r = client.get(url)
            dt = time.perf_counter() - t0
            with lock:
                latencies.append(dt)
                errors += r.status_code != 200

    threads = [threading.Thread(target=worker) for _ in range(clients)]
    t0 = time.perf_counter()
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    wall = time.perf_counter() - t0
    latencies.sort()
    return {"requests": len(latencies), "rps": len(latencies) / wall, "p50_ms": statistics.median(latencies) * 1e3,
            "p95_ms": latencies[int(0.95 * (len(latencies) - 1))] * 1e3, "errors": errors}


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--clients", type=int, default=4)
    parser.add_argument("--seconds", type=float, default=8.0)
    args = parser.parse_args()

    from scenewatch.config import Config
    from scenewatch.runtime import queries, service

    work = Path(tempfile.mkdtemp(prefix="scenewatch-bench-api-"))
    db = work / "bench.db"
    base_cfg = Config(store={"path": str(db)}, concepts=["package", "doorbell"], reasoner={"backend": "none"})
    service.watch(str(SCENE), base_cfg)
    with service.open_store(base_cfg) as store:
        token = queries.create_token(store, "bench")["token"]
        source_id = store.list_sources()[0]["id"]
    ts_port, port = _free_port(), _free_port()
    ffmpeg = subprocess.Popen(["ffmpeg", "-nostdin", "-v", "error", "-stream_loop", "-1", "-re", "-i", str(SCENE),
                               "-c", "copy", "-f", "mpegts", "-listen", "1", f"http://127.0.0.1:{ts_port}/live.ts"])
    cfg = work / "serve.yaml"
    cfg.write_text(f"sources: ['http://127.0.0.1:{ts_port}/live.ts']\nconcepts: [package, doorbell]\n"
                   f"reasoner: {{backend: none}}\nstore: {{path: '{db}'}}\nserve: {{port: {port}, password: bench}}\n")
    server = subprocess.Popen([sys.executable, "-m", "scenewatch.cli.main", "serve"], cwd=ROOT,
                              env={**os.environ, "SCENEWATCH_CONFIG": str(cfg)},
                              stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    base = f"http://127.0.0.1:{port}"
    try:
        client = httpx.Client(base_url=base, headers={"Authorization": f"Bearer {token}"}, timeout=30,
                              limits=httpx.Limits(max_connections=args.clients))
        for _ in range(300):
            try:
                if client.get("/api/health").status_code == 200:
                    break
            except httpx.HTTPError:
                time.sleep(0.1)
        time.sleep(3)  # let the live worker start
        routes = {
            "search": "/api/search?q=PRIORITY%20MAIL&limit=10",
            "events": "/api/events?limit=50",
            "observations": f"/api/observations?source_id={source_id}&limit=100",
            "media frame": f"/api/media/{source_id}/frame?t=10&width=640",
        }
        print(f"{args.clients} clients, {args.seconds:.0f} s per route, while watching a live MPEG-TS loop")
        print(f"{'route':<14}{'req':>6}{'req/s':>9}{'p50 ms':>9}{'p95 ms':>9}{'errors':>8}")
        for name, url in routes.items():
            r = _load(client, url, args.clients, args.seconds)
            print(f"{name:<14}{r['requests']:>6}{r['rps']:>9.1f}{r['p50_ms']:>9.1f}{r['p95_ms']:>9.1f}{r['errors']:>8}")
        live = [s for s in client.get("/api/sources").json() if s["worker"] and s["worker"]["live"]]
        if live:
            w = live[0]["worker"]
            print(f"live worker: state={w['state']} media={w['media_time']:.1f}s fps={w['fps']} lag={w['lag']}s")
    finally:
        server.terminate()
        server.wait(60)
        ffmpeg.kill()
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
