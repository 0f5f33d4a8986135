"""HTTP load against a running `qa serve`: one client in turn, or several at once for a time or until told
to stop. Every figure is wall time seen by the client; a request counts as failed unless it gets a 200."""

from __future__ import annotations

import threading
import time
from dataclasses import dataclass
from typing import Callable

import requests


def percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(round(q * (len(ordered) - 1))))] if ordered else float("nan")


@dataclass(frozen=True, slots=True)
class LoadResult:
    requests: int
    failed: int
    seconds: float
    p50_ms: float
    p95_ms: float

    @property
    def rps(self) -> float:
        return self.requests / self.seconds if self.seconds else 0.0

    def line(self) -> str:
        return (f"{self.rps:.0f} req/s, p50 {self.p50_ms:.1f} ms, p95 {self.p95_ms:.1f} ms "
                f"({self.requests} requests, {self.failed} failed)")


def _post(session: requests.Session, url: str, question: str) -> tuple[float, bool]:
    started = time.perf_counter()
    try:
        ok = session.post(url, json={"question": question}, timeout=60).status_code == 200
    except requests.RequestException:
        ok = False
    return (time.perf_counter() - started) * 1000, ok


def one_client(url: str, questions: list[str]) -> LoadResult:
    """Each question once, one after another."""
    started = time.perf_counter()
    with requests.Session() as session:
        results = [_post(session, url, question) for question in questions]
    latencies = [ms for ms, _ in results]
    return LoadResult(len(results), sum(not ok for _, ok in results), time.perf_counter() - started,
                      percentile(latencies, 0.5), percentile(latencies, 0.95))


def many_clients(url: str, clients: int, next_question: Callable[[], str], *, seconds: float | None = None,
                 stop: threading.Event | None = None) -> LoadResult:
    """`clients` threads asking in a loop, each time `next_question()`, for `seconds` or until `stop` is set."""
    latencies: list[float] = []
    failures = 0
    lock = threading.Lock()
    deadline = time.perf_counter() + seconds if seconds is not None else float("inf")
    stop = stop or threading.Event()

    def client() -> None:
        nonlocal failures
        with requests.Session() as session:
            while time.perf_counter() < deadline and not stop.is_set():
                ms, ok = _post(session, url, next_question())
                with lock:
                    latencies.append(ms)
                    failures += not ok

    threads = [threading.Thread(target=client) for _ in range(clients)]
    started = time.perf_counter()
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    return LoadResult(len(latencies), failures, time.perf_counter() - started,
                      percentile(latencies, 0.5), percentile(latencies, 0.95))


def during(action: Callable[[], object], url: str, clients: int, next_question: Callable[[], str]):
    """Run `action` while `clients` ask; returns (what action returned, the load seen meanwhile)."""
    stop = threading.Event()
    outcome: dict = {}

    def run() -> None:
        try:
            outcome["value"] = action()
        finally:
            stop.set()

    worker = threading.Thread(target=run)
    worker.start()
    load = many_clients(url, clients, next_question, stop=stop)
    worker.join()
    if "value" not in outcome:
        raise SystemExit("the action under load failed")
    return outcome["value"], load
