"""Helpers for tests that drive `qa` as real processes: their environment, a build that pauses at a
chosen stage (so it can be killed or raced midway), and a new bulletin to add."""

from __future__ import annotations

import os
import subprocess
import sys
import time
from pathlib import Path

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
import qa.embed, qa.index

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
else:
    raise SystemExit(f"unknown stage {stage}")

from qa.cli import main
sys.argv[0] = "qa"
main()
"""


def start_paused_build(settings: Settings, stage: str, marker: Path, *args: str, pause: float = 120) -> subprocess.Popen:
    """Start `qa ARGS` (e.g. "build", "--force") that pauses at `stage` ("embed" or "write")."""
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
