"""Helpers for tests that drive `qa` as real processes: their environment, a build that pauses at a
chosen stage (so it can be killed or raced midway), and a new bulletin to add."""

from __future__ import annotations

import contextlib
import os
import socket
import subprocess
import sys
import time
from pathlib import Path

import pytest
import requests

from qa.config import Settings

QA_SCRIPT = Path(sys.executable).parent / "qa"
"""The console script installed next to the interpreter running the tests."""

NEW_BULLETIN = """科技情报参考

2024年第5期

## 松江市建设人工智能算力中心

2024年，松江市投资18.6亿元建设人工智能算力中心，一期总算力达到2000PFlops，已为本地132家企业提供模型训练服务。

松江市同步出台算力券政策，对中小企业购买算力服务按费用的40%给予补贴，单家企业每年最高补贴300万元。

## 东湖区培育科技型中小企业

东湖区实施科技型中小企业梯度培育计划，2024年新增入库企业356家，其中高新技术企业148家。

东湖区设立首贷风险补偿资金池5000万元，累计帮助科技企业获得首次贷款9.8亿元。
"""
"""A bulletin that is not among the fixtures: issue 2024-05 with two articles."""

NEW_ISSUE_ID = "2024-05"
NEW_QUESTION = "松江市人工智能算力中心总算力达到多少？"
NEW_ANSWER = "2000PFlops"

HEADERLESS_BULLETIN = NEW_BULLETIN.replace("科技情报参考\n\n2024年第5期\n\n", "")
"""The same articles without the masthead and issue line, as in a file saved from a web page."""


def qa_env(settings: Settings, **extra: str) -> dict[str, str]:
    """The environment that points `qa` at the settings' directories and the fake embedder
    (and at nothing else: QA_* variables of the developer's shell are left out)."""
    env = {key: value for key, value in os.environ.items() if not key.startswith("QA_")}
    env.update(
        QA_SEEDS_DIR=str(settings.seeds_dir),
        QA_INDEX_DIR=str(settings.index_dir),
        QA_EMBED_MODEL="fake-64",
        QA_CACHE_DIR=str(settings.cache_dir),
        PYTHONUNBUFFERED="1",
    )
    env.update(extra)
    return env


def run_qa(settings: Settings, *args: str, timeout: float = 120) -> subprocess.CompletedProcess:
    """`python -m qa.cli ARGS` to completion, output captured as text."""
    return subprocess.run(
        [sys.executable, "-m", "qa.cli", *args],
        env=qa_env(settings),
        capture_output=True,
        text=True,
        timeout=timeout,
    )


# Runs the real CLI after patching one stage to touch a marker file and then sleep, so the test knows
# the build has reached that stage and can kill it or race it there. Patched in this process only.
_PAUSING_BUILD = """
import os, sys, time
import qa.embed, qa.index, qa.transaction

def pause():
    open(os.environ["QA_TEST_MARKER"], "w").close()
    time.sleep(float(os.environ["QA_TEST_PAUSE"]))

stage = os.environ["QA_TEST_STAGE"]
if stage == "embed":
    embed_passages = qa.embed.FakeEmbedder.embed_passages
    def slow_embed(self, texts, progress=False):
        pause()
        return embed_passages(self, texts, progress)
    qa.embed.FakeEmbedder.embed_passages = slow_embed
elif stage == "write":  # inside write_build: the .tmp- directory exists and is half written
    write_jsonl = qa.index._write_jsonl
    def slow_write(path, rows):
        pause()
        return write_jsonl(path, rows)
    qa.index._write_jsonl = slow_write
elif stage == "commit":  # the build with the change is in use; the seeds do not have it yet
    commit = qa.transaction.Transaction.commit
    def slow_commit(self):
        pause()
        return commit(self)
    qa.transaction.Transaction.commit = slow_commit
else:
    raise SystemExit(f"unknown stage {stage}")

from qa.cli import main
sys.argv[0] = "qa"
main()
"""


def start_paused_build(settings: Settings, stage: str, marker: Path, *args: str, pause: float = 120) -> subprocess.Popen:
    """Start `qa ARGS` (e.g. "build", "--force") that pauses at `stage` ("embed", "write" or "commit")."""
    env = qa_env(settings, QA_TEST_MARKER=str(marker), QA_TEST_STAGE=stage, QA_TEST_PAUSE=str(pause))
    return subprocess.Popen(
        [sys.executable, "-c", _PAUSING_BUILD, *args],
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )


def wait_for_marker(marker: Path, process: subprocess.Popen, timeout: float = 120) -> None:
    """Block until the paused build has touched its marker; fail if it exits or never gets there."""
    deadline = time.monotonic() + timeout
    while not marker.exists():
        if process.poll() is not None:
            stdout, stderr = process.communicate()
            raise AssertionError(f"build exited with {process.returncode} before pausing:\n{stdout}\n{stderr}")
        if time.monotonic() > deadline:
            process.kill()
            raise AssertionError(f"build did not reach its pause point within {timeout} s")
        time.sleep(0.05)


def stop(process: subprocess.Popen) -> None:
    """Kill a process started by a test, if it is still running, and reap it."""
    if process.poll() is None:
        process.kill()
    process.communicate(timeout=30)


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def start_server(settings: Settings, log_path: Path, **extra_env: str) -> tuple[subprocess.Popen, str]:
    """`qa serve` on a free port, output to `log_path`; returns the process and its base URL once healthy
    (or once it answers at all, when there is no index to be healthy about)."""
    port = free_port()
    with open(log_path, "w", encoding="utf-8") as server_log:
        server = subprocess.Popen(
            [sys.executable, "-m", "qa.cli", "serve", "--host", "127.0.0.1", "--port", str(port)],
            env=qa_env(settings, **extra_env), stdout=server_log, stderr=subprocess.STDOUT,
        )  # fmt: skip
    base_url = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        if server.poll() is not None:
            raise AssertionError(f"server exited with {server.returncode}:\n{log_path.read_text()}")
        try:
            requests.get(f"{base_url}/healthz", timeout=2)
            return server, base_url
        except requests.ConnectionError:
            time.sleep(0.1)
    stop(server)
    raise AssertionError(f"server did not answer within 60 s:\n{log_path.read_text()}")


@contextlib.contextmanager
def read_only(*paths: Path):
    """Make directories (and everything in them) unwritable for real: chattr +i as root, chmod otherwise."""
    if os.geteuid() == 0:
        flag = subprocess.run(["chattr", "-R", "+i", *map(str, paths)], capture_output=True, text=True)
        if flag.returncode != 0:
            subprocess.run(["chattr", "-R", "-i", *map(str, paths)], capture_output=True)
            pytest.skip(f"cannot make a directory read-only here: {flag.stderr.strip()}")
        try:
            yield
        finally:
            subprocess.run(["chattr", "-R", "-i", *map(str, paths)], check=True)
        return
    modes = {p: p.stat().st_mode for path in paths for p in [path, *path.rglob("*")]}
    for p in modes:
        p.chmod(modes[p] & ~0o222)
    try:
        yield
    finally:
        for p, mode in modes.items():
            p.chmod(mode)
