"""A `qa build` killed midway, and two builds at once, with real processes: the old build keeps
serving, nothing half-written is ever loaded, the lock dies with its process, the next build tidies up."""

from __future__ import annotations

import signal

import pytest
from filelock import FileLock

from qa.embed import FakeEmbedder
from qa.engine import open_engine
from qa.index import TEMP_PREFIX, current_build_id, load_snapshot

from conftest import build_fixture_index
from helpers_process import run_qa, start_paused_build, stop, wait_for_marker

YUNSHAN_QUESTION = "云山市日加氢能力达到多少？"


@pytest.fixture
def settings(tmp_path):
    return build_fixture_index(tmp_path / "root")


def _temp_dirs(settings) -> list[str]:
    return [p.name for p in (settings.index_dir / "builds").iterdir() if p.name.startswith(TEMP_PREFIX)]


def _assert_old_build_serves(settings, old_id: str) -> None:
    assert current_build_id(settings.index_dir) == old_id
    snapshot = load_snapshot(settings.index_dir, "fake-64")
    assert snapshot.build_id == old_id and not snapshot.build_id.startswith(TEMP_PREFIX)
    answer = open_engine(settings, FakeEmbedder()).ask(YUNSHAN_QUESTION)
    assert answer.citations[0].issue_id == "2024-03" and "13.5吨" in answer.citations[0].passage


def _assert_lock_is_free(settings) -> None:
    lock = FileLock(str(settings.index_dir / ".build.lock"))
    lock.acquire(timeout=0)  # raises filelock.Timeout if the dead build still held it
    lock.release()


@pytest.mark.parametrize("stage", ["embed", "write"], ids=["killed-while-embedding", "killed-while-writing"])
def test_a_killed_build_leaves_the_old_build_serving_and_the_next_build_tidies_up(settings, tmp_path, stage):
    old_id = current_build_id(settings.index_dir)
    marker = tmp_path / "paused"
    process = start_paused_build(settings, stage, marker, "build", "--force")
    try:
        wait_for_marker(marker, process)
        if stage == "write":  # the new build is half on disk, beside the old one
            assert len(_temp_dirs(settings)) == 1
        process.send_signal(signal.SIGKILL)
        process.wait(timeout=30)
    finally:
        stop(process)
    assert process.returncode == -signal.SIGKILL

    _assert_old_build_serves(settings, old_id)
    _assert_lock_is_free(settings)

    result = run_qa(settings, "build")

    assert result.returncode == 0, result.stderr
    assert old_id in result.stdout  # sources did not change: the old build stays current
    assert current_build_id(settings.index_dir) == old_id
    assert _temp_dirs(settings) == []
    _assert_old_build_serves(settings, old_id)

    forced = run_qa(settings, "build", "--force")

    assert forced.returncode == 0, forced.stderr
    assert current_build_id(settings.index_dir) != old_id
    assert _temp_dirs(settings) == []


def test_a_second_build_while_one_is_running_fails_with_a_clear_message(settings, tmp_path):
    old_id = current_build_id(settings.index_dir)
    marker = tmp_path / "paused"
    first = start_paused_build(settings, "embed", marker, "build", "--force")
    try:
        wait_for_marker(marker, first)

        second = run_qa(settings, "build", "--force")
        added = run_qa(settings, "remove", "baihe-undated")

        assert first.poll() is None  # the first build was still running throughout
    finally:
        stop(first)

    assert second.returncode != 0
    assert "另一个索引构建正在进行" in second.stderr
    assert "Traceback" not in second.stderr
    assert added.returncode != 0 and "另一个索引构建正在进行" in added.stderr
    assert (settings.seeds_dir / "baihe-undated.md").exists()  # the refused remove changed nothing
    assert current_build_id(settings.index_dir) == old_id

    after = run_qa(settings, "build", "--force")

    assert after.returncode == 0, after.stderr
    assert current_build_id(settings.index_dir) != old_id
