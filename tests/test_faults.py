"""Faults tried for real, with `qa` as separate processes: kill -9 in the middle of `qa add`, a damaged
build under `qa serve`, a read-only and a full index directory, 200 slow clients, and a server killed
while an upload job runs. Each says what the user sees and checks what is kept."""

from __future__ import annotations

import contextlib
import shutil
import signal
import socket
import subprocess
import time
from pathlib import Path

import pytest
import requests
from filelock import FileLock

from qa.embed import FakeEmbedder
from qa.engine import open_engine
from qa.index import build_dir, current_build_id, load_snapshot
from qa.seeds import read_registry
from qa.transaction import JOURNAL_FILE

from helpers_process import (
    NEW_ANSWER, NEW_ISSUE_ID, NEW_QUESTION, read_only, run_qa, start_paused_build, start_server,
    stop, wait_for_marker,
)  # fmt: skip

TOKEN = "fault-test-token"
SLOW_CLIENTS = 200


def _seeds_state(settings) -> dict[str, bytes]:
    return {p.name: p.read_bytes() for p in sorted(settings.seeds_dir.iterdir()) if p.is_file() and p.name[0] != "."}


def _one_error_line(done: subprocess.CompletedProcess, *fragments: str) -> str:
    assert done.returncode == 2, (done.stdout, done.stderr)
    assert "Traceback" not in done.stderr
    lines = [line for line in done.stderr.splitlines() if line.strip()]
    assert len(lines) == 1 and lines[0].startswith("错误："), done.stderr
    for fragment in fragments:
        assert fragment in lines[0], lines[0]
    return lines[0]


# --- kill -9 in the middle of qa add -------------------------------------------------------------


def _kill_add_at(settings, tmp_path, stage: str, bulletin: Path) -> None:
    marker = tmp_path / f"paused-{stage}"
    process = start_paused_build(settings, stage, marker, "add", str(bulletin))
    try:
        wait_for_marker(marker, process)
        process.send_signal(signal.SIGKILL)
        process.wait(timeout=30)
    finally:
        stop(process)
    assert process.returncode == -signal.SIGKILL


def test_qa_add_killed_while_embedding_leaves_the_seeds_as_they_were(fresh_settings, tmp_path, new_bulletin):
    # Defect 8: the file and its label stayed in seeds/ unindexed, and the retry said "Nothing new" (没有新内容).
    before, current = _seeds_state(fresh_settings), current_build_id(fresh_settings.index_dir)

    _kill_add_at(fresh_settings, tmp_path, "embed", new_bulletin)

    assert _seeds_state(fresh_settings) == before
    assert current_build_id(fresh_settings.index_dir) == current
    retry = run_qa(fresh_settings, "add", str(new_bulletin), "--label", "2024年第5期")
    assert retry.returncode == 0, retry.stderr
    assert "已加入 2024年第5期（2024-05-songjiang.md" in retry.stdout and "没有新内容" not in retry.stdout
    assert "已撤销上次中断的加入 2024-05-songjiang.md" in retry.stderr
    assert not (fresh_settings.seeds_dir / JOURNAL_FILE).exists()


def test_qa_add_killed_after_its_build_was_switched_in_is_finished_by_the_next_run(fresh_settings, tmp_path,
                                                                                   new_bulletin):
    _kill_add_at(fresh_settings, tmp_path, "commit", new_bulletin)
    # The new build is in use, and the seeds do not have the file yet: a state no reader sees as final.
    assert NEW_ISSUE_ID in {issue.id for issue in load_snapshot(fresh_settings.index_dir).issues}
    assert new_bulletin.name not in _seeds_state(fresh_settings)

    retry = run_qa(fresh_settings, "add", str(new_bulletin))

    assert retry.returncode == 0, retry.stderr
    assert "已完成上次中断的加入 2024-05-songjiang.md" in retry.stderr
    assert "没有新内容" in retry.stdout  # true now: the interrupted add was completed first
    assert (fresh_settings.seeds_dir / new_bulletin.name).read_bytes() == new_bulletin.read_bytes()
    assert read_registry(fresh_settings.seeds_dir)[new_bulletin.name].id == NEW_ISSUE_ID
    answer = open_engine(fresh_settings, FakeEmbedder()).ask(NEW_QUESTION)
    assert answer.citations[0].issue_id == NEW_ISSUE_ID and NEW_ANSWER in answer.citations[0].passage


# --- a damaged build under qa serve, qa build --force --------------------------------------------


def test_qa_serve_on_a_damaged_index_says_the_fix_in_one_line_then_picks_up_the_repair(fresh_settings, tmp_path):
    # Defect 2: a truncated manifest made `qa serve` and `qa build --force` exit with a 56-line traceback.
    manifest = build_dir(fresh_settings.index_dir, current_build_id(fresh_settings.index_dir)) / "manifest.json"
    manifest.write_bytes(manifest.read_bytes()[:100])
    log_path = tmp_path / "serve.log"
    server, base_url = start_server(fresh_settings, log_path)
    try:
        health = requests.get(f"{base_url}/healthz", timeout=10)
        assert health.status_code == 503 and health.json()["error"]["code"] == "index_damaged"
        log = log_path.read_text(encoding="utf-8")
        assert "Traceback" not in log
        [line] = [line for line in log.splitlines() if "manifest.json" in line]
        assert "无法读取" in line and "qa build --force" in line

        repaired = run_qa(fresh_settings, "build", "--force")

        assert repaired.returncode == 0, repaired.stderr
        assert "已构建索引" in repaired.stdout
        health = requests.get(f"{base_url}/healthz", timeout=10)
        assert health.status_code == 200 and health.json()["status"] == "ok"
    finally:
        stop(server)


# --- a read-only or full index directory ---------------------------------------------------------


def test_a_read_only_index_gives_one_readable_line_and_changes_nothing(fresh_settings, new_bulletin):
    # Defect 7: `qa add` and `qa build --force` printed a 59-line PermissionError.
    before, current = _seeds_state(fresh_settings), current_build_id(fresh_settings.index_dir)
    with read_only(fresh_settings.index_dir):
        built = run_qa(fresh_settings, "build", "--force")
        added = run_qa(fresh_settings, "add", str(new_bulletin))
        asked = run_qa(fresh_settings, "ask", "云山市日加氢能力达到多少？")

    _one_error_line(built, "无法写入", str(fresh_settings.index_dir))
    _one_error_line(added, "无法写入")
    assert asked.returncode in (0, 1) and "Traceback" not in asked.stderr and asked.stdout.strip()  # reading works
    assert _seeds_state(fresh_settings) == before and current_build_id(fresh_settings.index_dir) == current
    assert not (fresh_settings.seeds_dir / JOURNAL_FILE).exists()


def test_a_read_only_seeds_directory_refuses_an_add_in_one_line(fresh_settings, new_bulletin):
    before, current = _seeds_state(fresh_settings), current_build_id(fresh_settings.index_dir)
    with read_only(fresh_settings.seeds_dir):
        added = run_qa(fresh_settings, "add", str(new_bulletin))

    _one_error_line(added, "无法写入", "seeds")
    assert _seeds_state(fresh_settings) == before and current_build_id(fresh_settings.index_dir) == current


@pytest.fixture
def full_index(fresh_settings, tmp_path):
    """The built index moved onto a 4 MB tmpfs that is then filled up; skips where mounting is not allowed."""
    mount_point = tmp_path / "small-disk"
    mount_point.mkdir()
    mounted = subprocess.run(["mount", "-t", "tmpfs", "-o", "size=4m", "tmpfs", str(mount_point)],
                             capture_output=True, text=True)
    if mounted.returncode != 0:
        pytest.skip(f"cannot mount a small tmpfs here: {mounted.stderr.strip()}")
    try:
        shutil.copytree(fresh_settings.index_dir, mount_point / "index")
        settings = fresh_settings.with_(index_dir=mount_point / "index")
        filler = mount_point / "filler"
        with open(filler, "wb") as handle:
            with contextlib.suppress(OSError):
                while True:
                    handle.write(b"\0" * 65536)
                    handle.flush()
        yield settings
    finally:
        subprocess.run(["umount", str(mount_point)], check=True)


def test_a_full_disk_gives_one_readable_line_and_the_old_build_keeps_serving(full_index, new_bulletin):
    before, current = _seeds_state(full_index), current_build_id(full_index.index_dir)

    built = run_qa(full_index, "build", "--force")
    added = run_qa(full_index, "add", str(new_bulletin))

    _one_error_line(built, "No space left on device")
    _one_error_line(added, "No space left on device")
    assert _seeds_state(full_index) == before
    assert current_build_id(full_index.index_dir) == current
    assert load_snapshot(full_index.index_dir).build_id == current


# --- slow clients ------------------------------------------------------------------------------


def _half_sent_request(port: int) -> socket.socket:
    """A connection that sent its headers and 10 of 1000 body bytes, and then nothing."""
    connection = socket.create_connection(("127.0.0.1", port), timeout=10)
    connection.sendall(b"POST /api/ask HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
                       b"Content-Length: 1000\r\n\r\n{\"question")
    return connection


def test_slow_clients_do_not_lock_others_out(fresh_settings, tmp_path):
    # Defect 6: 110 half-sent bodies exhausted waitress's 100 connections and /healthz timed out.
    server, base_url = start_server(fresh_settings, tmp_path / "serve.log")
    port = int(base_url.rsplit(":", 1)[1])
    slow: list[socket.socket] = []
    try:
        slow = [_half_sent_request(port) for _ in range(SLOW_CLIENTS)]
        time.sleep(0.5)  # the server has accepted them all by now

        health = requests.get(f"{base_url}/healthz", timeout=1)  # answered, not queued behind the slow ones
        asked = requests.post(f"{base_url}/api/ask", json={"question": "云山市日加氢能力达到多少？"}, timeout=5)
        too_big = requests.post(f"{base_url}/api/issues", data=b"", timeout=5,
                                headers={"Content-Length": str(100 * 2**20), "Content-Type": "multipart/form-data"})

        assert health.status_code == 200 and asked.status_code == 200
        assert too_big.status_code == 413  # refused by waitress before a byte of the body is read
    finally:
        for connection in slow:
            connection.close()
        stop(server)


# --- a server killed while an upload job runs ----------------------------------------------------


def test_an_upload_job_interrupted_by_a_restart_is_resumed_and_its_record_kept(fresh_settings, tmp_path,
                                                                               new_bulletin):
    auth = {"Authorization": f"Bearer {TOKEN}"}
    server, base_url = start_server(fresh_settings, tmp_path / "serve-1.log", QA_ADMIN_TOKEN=TOKEN)
    lock = FileLock(str(fresh_settings.index_dir / ".build.lock"))
    try:
        with lock:  # a `qa build` in a shell: the job waits for it, running
            response = requests.post(f"{base_url}/api/issues", headers=auth, timeout=10,
                                     files={"file": (new_bulletin.name, new_bulletin.read_bytes())})
            assert response.status_code == 202, response.text
            url = base_url + response.json()["job"]["url"]
            deadline = time.monotonic() + 30
            while requests.get(url, headers=auth, timeout=10).json()["job"]["status"] != "running":
                assert time.monotonic() < deadline
                time.sleep(0.1)
            server.send_signal(signal.SIGKILL)
            server.wait(timeout=30)
    finally:
        stop(server)

    server, base_url = start_server(fresh_settings, tmp_path / "serve-2.log", QA_ADMIN_TOKEN=TOKEN)
    try:
        url = base_url + response.json()["job"]["url"]
        deadline = time.monotonic() + 60
        while (job := requests.get(url, headers=auth, timeout=10).json()["job"])["status"] not in ("done", "failed"):
            assert time.monotonic() < deadline, job
            time.sleep(0.1)
        assert job["status"] == "done", job
        assert job["result"]["added"] is True and job["result"]["issue"]["id"] == NEW_ISSUE_ID
        body = requests.post(f"{base_url}/api/ask", json={"question": NEW_QUESTION}, timeout=10).json()
        assert body["citations"][0]["issue"]["id"] == NEW_ISSUE_ID
    finally:
        stop(server)
    assert not list((fresh_settings.index_dir / "uploads").rglob("*.md"))  # the saved upload went with the job
