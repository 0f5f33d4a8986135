"""Measure how `qa serve` (waitress, settings in qa.app.WAITRESS) holds up against slow clients:
/healthz latency while N connections each hold a half-sent request, the server's memory per such
connection, and how long a silent connection is kept. Prints the figures behind the README's
Operations section. Uses a temp copy of seeds/ with the fake embedder; never touches index/.

    .venv/bin/python scripts/slow_clients.py [--counts 0,100,200,500,900] [--timeout-check] [--waitress-defaults]

--waitress-defaults serves with waitress's own defaults (100 connections, 120 s channel timeout, select)
instead, for comparison.
"""

from __future__ import annotations

import argparse
import os
import shutil
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import psutil
import requests

ROOT = Path(__file__).resolve().parent.parent
BODY_SENT = 60 * 1024  # of a 200 KB body: what a slow client has sent when it stalls
WAITRESS_DEFAULTS = {"connection_limit": 100, "channel_timeout": 120, "cleanup_interval": 30,
                     "asyncore_use_poll": False, "inbuf_overflow": 524288, "max_request_body_size": 1073741824}
_SERVE_WITH = """
import sys
import qa.http.app
qa.http.app.WAITRESS.update({settings})
from qa.cli import main
sys.argv[0] = "qa"
main()
"""


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--counts", default="0,100,200,500,900")
    parser.add_argument("--timeout-check", action="store_true", help="also time how long a silent connection lives")
    parser.add_argument("--waitress-defaults", action="store_true", help="serve with waitress's defaults instead")
    args = parser.parse_args()
    overrides = WAITRESS_DEFAULTS if args.waitress_defaults else {}
    with tempfile.TemporaryDirectory() as work:
        env = _environment(Path(work))
        subprocess.run([sys.executable, "-m", "qa.cli", "build"], env=env, check=True, capture_output=True)
        port = _free_port()
        server = subprocess.Popen([sys.executable, "-c", _SERVE_WITH.format(settings=overrides), "serve", "--port",
                                   str(port)], env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        try:
            base = f"http://127.0.0.1:{port}"
            _wait(base)
            for count in map(int, args.counts.split(",")):
                _measure(base, port, server.pid, count)
            if args.timeout_check:
                _silent_connection_lifetime(port)
        finally:
            server.terminate()
            server.wait(timeout=30)


def _environment(work: Path) -> dict[str, str]:
    shutil.copytree(ROOT / "seeds", work / "seeds")
    return {**os.environ, "QA_SEEDS_DIR": str(work / "seeds"), "QA_INDEX_DIR": str(work / "index"),
            "QA_EMBED_MODEL": "fake-64"}


def _measure(base: str, port: int, pid: int, count: int) -> None:
    rss_before = psutil.Process(pid).memory_info().rss
    slow = [_stalled_upload(port) for _ in range(count)]
    time.sleep(1.0)
    rss_after = psutil.Process(pid).memory_info().rss
    latencies, failures = [], 0
    for _ in range(20):
        started = time.perf_counter()
        try:
            requests.get(f"{base}/healthz", timeout=5).raise_for_status()
            latencies.append((time.perf_counter() - started) * 1000)
        except requests.RequestException:
            failures += 1
    for connection in slow:
        connection.close()
    per_connection = (rss_after - rss_before) / count / 1024 if count else 0.0
    p50 = f"{statistics.median(latencies):.1f}" if latencies else "-"
    worst = f"{max(latencies):.1f}" if latencies else "-"
    print(f"{count:4d} stalled connections: /healthz p50 {p50} ms, max {worst} ms, {failures}/20 timed out; "
          f"server RSS +{(rss_after - rss_before) / 2**20:.1f} MB ({per_connection:.1f} KB per connection)")
    time.sleep(1.0)


def _stalled_upload(port: int) -> socket.socket:
    connection = socket.create_connection(("127.0.0.1", port), timeout=10)
    connection.sendall(b"POST /api/ask HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
                       b"Content-Length: 204800\r\n\r\n" + b" " * BODY_SENT)
    return connection


def _silent_connection_lifetime(port: int) -> None:
    connection = _stalled_upload(port)
    started = time.monotonic()
    connection.settimeout(120)
    try:
        connection.recv(1)  # returns b"" (or raises) when the server closes it
    except OSError:
        pass
    print(f"a silent connection was closed by the server after {time.monotonic() - started:.0f} s")


def _wait(base: str) -> None:
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        try:
            requests.get(f"{base}/healthz", timeout=2)
            return
        except requests.ConnectionError:
            time.sleep(0.2)
    raise SystemExit("the server did not start")


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


if __name__ == "__main__":
    main()
