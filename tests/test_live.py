"""The real server under load while the index changes underneath it: `qa serve` in a subprocess,
8 client threads asking questions, and 10 `qa add` / `qa build --force` runs in other processes.
Every request must succeed and every added issue must be answerable at once, with no restart."""

from __future__ import annotations

import socket
import subprocess
import sys
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path

import requests

from helpers_process import qa_env, run_qa
from qa.config import Settings

CLIENT_THREADS = 8
OPERATIONS = 10  # alternating add / build --force
MAX_REQUESTS_PER_THREAD = 500
PAUSE_BETWEEN_REQUESTS = 0.1  # leaves CPU for the builds on a 2-core runner; still ~80 requests a second
TIME_BUDGET = 45.0  # the clients ask for at most this long (a bound on the load, not a speed target)
MIN_REQUESTS = 200
SWITCH_TIMEOUT = 60.0  # a hang guard: the server must switch to a finished build at all (speed is the benchmark's)
LOAD_QUESTIONS = (
    "云山市建成了多少座加氢站？",
    "青石县签订技术合同金额合计多少？",
    "云山市氢能产业基金规模是多少？",
    "揭榜挂帅",
    "白河市",
)
CITIES = ("临江", "北岭", "东川", "西泽", "南浦")


def new_bulletin(number: int) -> tuple[str, str, str, str]:
    """Issue 2025年第<number>期 about a city no other issue names; returns (text, issue id, question, fact)."""
    city = CITIES[number - 1]
    centre_users = 300 + 17 * number
    fact = f"{centre_users}家"
    text = f"""科技情报参考

2025年第{number}期

## {city}市建设量子计算创新中心

2025年，{city}市投资{number}6.5亿元建设量子计算创新中心，首台超导量子计算样机已经上线运行，已为{fact}科研单位和企业提供算力服务。

{city}市同步出台量子科技专项政策，对在本地落地的量子科技企业按研发投入的25%给予补助，单家企业每年最高补助800万元。

## {city}市培育专精特新中小企业

{city}市实施专精特新中小企业梯度培育计划，2025年新增入库企业{200 + number}家，其中国家级专精特新“小巨人”企业{10 + number}家。

{city}市设立知识产权质押融资风险补偿资金池6000万元，累计帮助科技企业获得质押贷款{number}.8亿元。
"""
    return text, f"2025-{number:02d}", f"{city}市量子计算创新中心为多少家科研单位和企业提供算力服务？", fact


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def run_ok(settings: Settings, *args: str) -> subprocess.CompletedProcess:
    done = run_qa(settings, *args, timeout=60)
    assert done.returncode == 0, f"qa {' '.join(args)} failed:\n{done.stdout}\n{done.stderr}"
    return done


def wait_until_healthy(base_url: str, server: subprocess.Popen, log_path: Path, timeout: float = 30) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if server.poll() is not None:
            raise AssertionError(f"server exited with {server.returncode}:\n{log_path.read_text()}")
        try:
            if requests.get(f"{base_url}/healthz", timeout=2).status_code == 200:
                return
        except requests.ConnectionError:
            pass
        time.sleep(0.1)
    raise AssertionError(f"server not healthy after {timeout} s:\n{log_path.read_text()}")


def wait_for_build(base_url: str, build_id: str, timeout: float = SWITCH_TIMEOUT) -> None:
    """Until the server reports `build_id`. Usually the first look: the engine loads a new build on the
    first request that sees CURRENT change, and only requests arriving during that load (milliseconds)
    are still answered from the previous build."""
    deadline = time.monotonic() + timeout
    while (served := requests.get(f"{base_url}/healthz", timeout=15).json()["build_id"]) != build_id:
        assert time.monotonic() < deadline, f"server still on {served}, not {build_id}, after {timeout} s"
        time.sleep(0.02)


@dataclass
class Load:
    """What the client threads did; `failures` holds every non-200 response or error."""

    stop: threading.Event = field(default_factory=threading.Event)
    lock: threading.Lock = field(default_factory=threading.Lock)
    requests: int = 0
    failures: list[str] = field(default_factory=list)

    def ask_in_a_loop(self, base_url: str, worker: int, deadline: float) -> None:
        with requests.Session() as session:
            for n in range(MAX_REQUESTS_PER_THREAD):
                if self.stop.is_set() or time.monotonic() > deadline:
                    return
                question = LOAD_QUESTIONS[(worker + n) % len(LOAD_QUESTIONS)]
                try:
                    response = session.post(f"{base_url}/api/ask", json={"question": question, "top_k": 3}, timeout=15)
                    failure = None if response.status_code == 200 else f"{response.status_code}: {response.text[:300]}"
                except requests.RequestException as exc:
                    failure = f"{type(exc).__name__}: {exc}"
                with self.lock:
                    self.requests += 1
                    if failure:
                        self.failures.append(f"{question}: {failure}")
                self.stop.wait(PAUSE_BETWEEN_REQUESTS)


def test_server_answers_throughout_adds_and_rebuilds(fresh_settings, tmp_path):
    env = qa_env(fresh_settings)
    port = free_port()
    base_url = f"http://127.0.0.1:{port}"
    log_path = tmp_path / "server.log"
    load = Load()
    with open(log_path, "w", encoding="utf-8") as server_log:
        server = subprocess.Popen(
            [sys.executable, "-m", "qa.cli", "serve", "--host", "127.0.0.1", "--port", str(port)],
            env=env, stdout=server_log, stderr=subprocess.STDOUT,
        )  # fmt: skip
    clients: list[threading.Thread] = []
    try:
        wait_until_healthy(base_url, server, log_path)
        deadline = time.monotonic() + TIME_BUDGET
        clients = [
            threading.Thread(target=load.ask_in_a_loop, args=(base_url, worker, deadline), daemon=True)
            for worker in range(CLIENT_THREADS)
        ]
        for client in clients:
            client.start()

        added: list[tuple[str, str, str]] = []
        for operation in range(OPERATIONS):
            if operation % 2 == 0:
                number = operation // 2 + 1
                text, issue_id, question, fact = new_bulletin(number)
                path = tmp_path / f"bulletin-2025-{number:02d}.txt"
                path.write_text(text, encoding="utf-8")
                run_ok(fresh_settings, "add", str(path), "--label", f"2025年第{number}期")
                added.append((issue_id, question, fact))
            else:
                run_ok(fresh_settings, "build", "--force")
            wait_for_build(base_url, (fresh_settings.index_dir / "CURRENT").read_text(encoding="utf-8").strip())
            for issue_id, question, fact in added:  # the newest at once; the earlier ones survive rebuilds
                asked = {"question": question, "issue": issue_id}
                response = requests.post(f"{base_url}/api/ask", json=asked, timeout=15)
                assert response.status_code == 200, response.text
                body = response.json()
                assert {citation["issue"]["id"] for citation in body["citations"]} == {issue_id}
                assert any(fact in citation["passage"] for citation in body["citations"]), body
        assert server.poll() is None, "the server stopped during the test"  # one process served it all
    finally:
        load.stop.set()
        for client in clients:
            client.join(timeout=20)
        server.terminate()
        try:
            server.wait(timeout=10)
        except subprocess.TimeoutExpired:
            server.kill()
            server.wait(timeout=10)

    assert server.returncode is not None
    assert load.failures == [], f"{len(load.failures)} of {load.requests} requests failed: {load.failures[:5]}"
    assert load.requests >= MIN_REQUESTS, f"only {load.requests} requests made"
    issues = {issue.split()[0] for issue in run_ok(fresh_settings, "issues").stdout.splitlines()}
    assert {f"2025-{n:02d}" for n in range(1, OPERATIONS // 2 + 1)} <= issues

