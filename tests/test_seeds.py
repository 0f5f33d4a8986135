"""The bulletin folder: issue ids given once and never moved, labels checked, and adding or removing as
one transaction with the build — rolled back when the build fails, finished or rolled back by the next
run when a process dies midway."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from qa import transaction
from qa.build import add_bulletins, build, build_lock, remove_issue
from qa.embed import FakeEmbedder
from qa.engine import open_engine
from qa.errors import BadBulletin, IssueTaken, NotFound
from qa.index import current_build_id, load_snapshot
from qa.seeds import REGISTRY_FILE, Entry, checked_label, read_registry

from helpers_process import NEW_BULLETIN, NEW_ISSUE_ID

YUNSHAN = Path(__file__).parent / "data" / "2024-03-yunshan.txt"


def _seeds_state(settings) -> dict[str, bytes]:
    return {p.name: p.read_bytes() for p in sorted(settings.seeds_dir.iterdir()) if p.is_file() and p.name[0] != "."}


def _issue_ids(settings) -> dict[str, str]:
    return {issue.source: issue.id for issue in load_snapshot(settings.index_dir).issues}


def _taking_over(tmp_path: Path, name: str = "0000.txt") -> Path:
    """Another bulletin printed as 2024年第3期 (the fixture 2024-03 has that label), named to sort first."""
    path = tmp_path / "incoming" / name
    path.parent.mkdir(exist_ok=True)
    path.write_text(NEW_BULLETIN.replace("2024年第5期", "2024年第3期"), encoding="utf-8")
    return path


# --- ids never move ----------------------------------------------------------------------------


def test_the_first_build_registers_every_files_issue_id(fresh_settings):
    registry = read_registry(fresh_settings.seeds_dir)

    assert {name: entry.id for name, entry in registry.items()} == _issue_ids(fresh_settings)
    assert registry["baihe-undated.md"] == Entry("baihe-undated", "2023年增刊")


def test_a_file_dropped_into_the_seeds_never_takes_an_existing_issues_id(fresh_settings, tmp_path):
    # Defect 5: ids came from file-name order, so "0000.txt" labelled 2024年第3期 became 2024-03 and the
    # original moved to 2024-03-2. The registered file keeps its id; the newcomer gets a free one.
    _taking_over(tmp_path).replace(fresh_settings.seeds_dir / "0000.txt")

    build(fresh_settings, FakeEmbedder())

    ids = _issue_ids(fresh_settings)
    assert ids["2024-03-yunshan.txt"] == "2024-03"
    assert ids["0000.txt"] == "2024-03-2"
    assert read_registry(fresh_settings.seeds_dir)["0000.txt"].id == "2024-03-2"
    build(fresh_settings, FakeEmbedder(), force=True)
    assert _issue_ids(fresh_settings) == ids


def test_adding_a_file_whose_issue_is_taken_is_refused_and_changes_nothing(fresh_settings, tmp_path):
    before, current = _seeds_state(fresh_settings), current_build_id(fresh_settings.index_dir)

    with pytest.raises(IssueTaken) as caught:
        add_bulletins(fresh_settings, FakeEmbedder(), [_taking_over(tmp_path)])

    assert "2024-03" in caught.value.message and "--replace 2024-03" in caught.value.message
    assert caught.value.http_status == 409
    assert _seeds_state(fresh_settings) == before and current_build_id(fresh_settings.index_dir) == current


def test_replace_swaps_the_issues_file_and_keeps_its_id(fresh_settings, tmp_path):
    added, _ = add_bulletins(fresh_settings, FakeEmbedder(), [_taking_over(tmp_path)], replace_id="2024-03")

    assert [(issue.id, issue.source) for issue in added] == [("2024-03", "0000.txt")]
    assert not (fresh_settings.seeds_dir / "2024-03-yunshan.txt").exists()
    assert _issue_ids(fresh_settings) == {"0000.txt": "2024-03", "baihe-undated.md": "baihe-undated"}
    registry = read_registry(fresh_settings.seeds_dir)
    assert "2024-03-yunshan.txt" not in registry and registry["0000.txt"].id == "2024-03"


@pytest.mark.parametrize(
    "replace_id, error, fragment",
    [("2099-01", NotFound, "2099-01"), ("baihe-undated", BadBulletin, "不是要替换的 baihe-undated")],
)
def test_replace_of_an_unknown_issue_or_with_another_issues_file_is_refused(fresh_settings, tmp_path, replace_id,
                                                                            error, fragment):
    before = _seeds_state(fresh_settings)

    with pytest.raises(error, match=fragment):
        add_bulletins(fresh_settings, FakeEmbedder(), [_taking_over(tmp_path)], replace_id=replace_id)

    assert _seeds_state(fresh_settings) == before


# --- labels ------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "label, complaint",
    [(b"\xff\xfe2024".decode("utf-8", "surrogateescape"), "不是有效的 UTF-8"),  # as argv carries it
     (b"\xff\xfe2024".decode("utf-8", "replace"), "不是有效的 UTF-8"),  # as a form decoder gives it
     ("期" * 41, "超过 40 个字符"), ("2024/09", "斜杠")],
    ids=["argv-bytes", "form-bytes", "too-long", "slash"],
)  # fmt: skip
def test_a_label_that_cannot_be_stored_is_refused(fresh_settings, new_bulletin, label, complaint):
    before = _seeds_state(fresh_settings)

    with pytest.raises(BadBulletin, match=complaint):
        add_bulletins(fresh_settings, FakeEmbedder(), [new_bulletin], label=label)

    assert _seeds_state(fresh_settings) == before
    assert checked_label("  2024年第3期 ") == "2024年第3期" and checked_label("  ") is None


# --- the transaction -----------------------------------------------------------------------------


class _Crash(Exception):
    pass


def test_a_build_failing_inside_the_transaction_rolls_it_back(fresh_settings, new_bulletin, monkeypatch):
    before, current = _seeds_state(fresh_settings), current_build_id(fresh_settings.index_dir)
    monkeypatch.setattr(transaction.Transaction, "prepared", lambda self, build_id: (_ for _ in ()).throw(_Crash()))

    with pytest.raises(_Crash):
        add_bulletins(fresh_settings, FakeEmbedder(), [new_bulletin])

    assert _seeds_state(fresh_settings) == before and current_build_id(fresh_settings.index_dir) == current
    assert not (fresh_settings.seeds_dir / transaction.JOURNAL_FILE).exists()
    assert not (fresh_settings.seeds_dir / transaction.STAGING_DIR).exists()


def _die_at(monkeypatch, stage: str) -> None:
    """Make the transaction stop at `stage` the way a killed process does: no rollback, no commit."""
    if stage == "before-switch":
        original = transaction.Transaction.prepared

        def prepared_then_die(self, build_id):
            original(self, build_id)
            raise SystemExit("killed")

        monkeypatch.setattr(transaction.Transaction, "prepared", prepared_then_die)
    else:
        monkeypatch.setattr(transaction.Transaction, "commit", lambda self: (_ for _ in ()).throw(SystemExit()))
    monkeypatch.setattr(transaction.Transaction, "settle", lambda self, current: None)


@pytest.mark.parametrize("stage, committed", [("before-switch", False), ("after-switch", True)])
def test_an_interrupted_add_is_finished_or_rolled_back_by_the_next_run(fresh_settings, new_bulletin, monkeypatch,
                                                                       stage, committed):
    before = _seeds_state(fresh_settings)
    _die_at(monkeypatch, stage)
    with pytest.raises(SystemExit):
        add_bulletins(fresh_settings, FakeEmbedder(), [new_bulletin])
    monkeypatch.undo()
    assert (fresh_settings.seeds_dir / transaction.JOURNAL_FILE).exists()
    assert _seeds_state(fresh_settings) == before  # half done: nothing is in the seeds yet

    with build_lock(fresh_settings):  # the next run, whatever it is, settles it first
        pass

    assert not (fresh_settings.seeds_dir / transaction.JOURNAL_FILE).exists()
    in_seeds = new_bulletin.name in _seeds_state(fresh_settings)
    assert in_seeds is committed
    assert (NEW_ISSUE_ID in _issue_ids(fresh_settings).values()) is committed
    assert (read_registry(fresh_settings.seeds_dir).get(new_bulletin.name) is not None) is committed
    added, _ = add_bulletins(fresh_settings, FakeEmbedder(), [new_bulletin])
    assert [issue.id for issue in added] == ([] if committed else [NEW_ISSUE_ID])
    answer = open_engine(fresh_settings, FakeEmbedder()).ask("松江市人工智能算力中心总算力达到多少？")
    assert answer.citations[0].issue_id == NEW_ISSUE_ID


def test_a_rolled_back_build_is_not_kept_as_a_fallback(fresh_settings, new_bulletin, monkeypatch):
    builds_before = sorted(p.name for p in (fresh_settings.index_dir / "builds").iterdir())
    _die_at(monkeypatch, "before-switch")
    with pytest.raises(SystemExit):
        add_bulletins(fresh_settings, FakeEmbedder(), [new_bulletin])
    monkeypatch.undo()

    with build_lock(fresh_settings):
        pass

    assert sorted(p.name for p in (fresh_settings.index_dir / "builds").iterdir()) == builds_before


def test_remove_is_a_transaction_too(fresh_settings, monkeypatch):
    _die_at(monkeypatch, "after-switch")
    with pytest.raises(SystemExit):
        remove_issue(fresh_settings, FakeEmbedder(), "baihe-undated")
    monkeypatch.undo()
    assert (fresh_settings.seeds_dir / "baihe-undated.md").exists()  # the build without it is in use

    build(fresh_settings, FakeEmbedder())

    assert not (fresh_settings.seeds_dir / "baihe-undated.md").exists()
    assert "baihe-undated.md" not in json.loads((fresh_settings.seeds_dir / REGISTRY_FILE).read_text("utf-8"))
    assert _issue_ids(fresh_settings) == {"2024-03-yunshan.txt": "2024-03"}


def test_an_unreadable_journal_is_discarded_and_the_seeds_stay(fresh_settings):
    before = _seeds_state(fresh_settings)
    (fresh_settings.seeds_dir / transaction.JOURNAL_FILE).write_text("{not json", encoding="utf-8")

    result = build(fresh_settings, FakeEmbedder())

    assert not result.changed and _seeds_state(fresh_settings) == before
    assert not (fresh_settings.seeds_dir / transaction.JOURNAL_FILE).exists()


def test_a_file_moved_out_of_the_folder_and_back_keeps_its_label_and_id(fresh_settings, tmp_path):
    # The benchmark does this: it held one seed back for a build, then put it back.
    source = fresh_settings.seeds_dir / "baihe-undated.md"
    away = tmp_path / "away.md"
    source.replace(away)
    build(fresh_settings, FakeEmbedder())
    assert read_registry(fresh_settings.seeds_dir)["baihe-undated.md"] == Entry("baihe-undated", "2023年增刊")

    away.replace(source)
    build(fresh_settings, FakeEmbedder())

    issue = load_snapshot(fresh_settings.index_dir).issue("baihe-undated")
    assert issue is not None and issue.label == "2023年增刊"


class _ModelNotLoaded(FakeEmbedder):
    @property
    def dimension(self):
        raise AssertionError("a no-op build loaded the model")

    @dimension.setter
    def dimension(self, value):
        pass


def test_a_no_op_build_never_loads_the_model(fresh_settings):
    # It did (the manifest draft asked the lazy embedder for its dimension): `qa build` took 12 s, not 1.
    result = build(fresh_settings, _ModelNotLoaded())

    assert not result.changed


def test_a_file_added_again_gets_back_the_label_and_id_it_had(fresh_settings, tmp_path):
    # `qa add` of a file the folder held before (moved away by hand) — the benchmark's "add one" case.
    source = fresh_settings.seeds_dir / "baihe-undated.md"
    away = tmp_path / "baihe-undated.md"
    source.replace(away)
    build(fresh_settings, FakeEmbedder())

    added, _ = add_bulletins(fresh_settings, FakeEmbedder(), [away])

    assert [(issue.id, issue.label) for issue in added] == [("baihe-undated", "2023年增刊")]
