"""Damaged and mismatched builds: the manifest lists every file with its size and sha256 and the counts
the loaded build must agree with; a build that fails is never served (the engine keeps or falls back to
the newest good build and says why), and a rebuild never depends on the current build being readable."""

from __future__ import annotations

import hashlib
import json
import os
import shutil
from pathlib import Path

import pytest

import qa.engine
import qa.index
from qa import manifest as manifests
from qa.chunking import embedding_text
from qa.http.app import create_app
from qa.build import build
from qa.embed import FakeEmbedder
from qa.engine import open_engine
from qa.errors import IndexDamaged
from qa.index import build_dir, current_build_id, load_snapshot, switch_to
from qa.manifest import FileRecord, read_manifest

YUNSHAN_QUESTION = "云山市日加氢能力达到多少？"


def _folder(settings, build_id: str | None = None) -> Path:
    return build_dir(settings.index_dir, build_id or current_build_id(settings.index_dir))


def _drop_last_lines(path: Path, count: int) -> None:
    lines = path.read_text(encoding="utf-8").splitlines(keepends=True)
    path.write_text("".join(lines[:-count]), encoding="utf-8")


@pytest.fixture
def two_builds(fresh_settings):
    """An older build (without the headerless issue's last article) and the current one, both intact."""
    settings = fresh_settings.with_(builds_to_keep=5)
    older = current_build_id(settings.index_dir)
    source = settings.seeds_dir / "baihe-undated.md"
    source.write_text(source.read_text(encoding="utf-8") + "\n\n## 宁川县新建农业科技园\n\n" + "宁川县新建农业科技园一座。" * 20,
                      encoding="utf-8")
    newer = build(settings, FakeEmbedder()).build_id
    return settings, older, newer


# --- what the manifest records ---------------------------------------------------------------


def test_the_manifest_lists_every_file_of_the_build_with_size_and_sha256(fresh_settings):
    folder = _folder(fresh_settings)
    manifest = read_manifest(folder)

    on_disk = sorted(p.relative_to(folder).as_posix() for p in folder.rglob("*") if p.is_file())
    assert [record.path for record in manifest.files] == [name for name in on_disk if name != "manifest.json"]
    assert any(record.path.startswith("keyword/") for record in manifest.files)  # nested files too
    for record in manifest.files:
        assert record == FileRecord(record.path, (folder / record.path).stat().st_size,
                                    hashlib.sha256((folder / record.path).read_bytes()).hexdigest())
    counts = dict(manifest.counts)
    assert counts["chunks"] == counts["vectors"] == counts["dense"] == counts["keyword"] > 0


def test_a_file_added_to_builds_later_is_covered_without_knowing_its_name(fresh_settings, monkeypatch):
    write_jsonl = qa.index._write_jsonl

    def also_a_new_file(path, rows):  # stands in for a file builds will write one day
        write_jsonl(path, rows)
        if path.name == "chunks.jsonl":
            (path.parent / "future.jsonl").write_text('{"s": 1}\n', encoding="utf-8")

    monkeypatch.setattr(qa.index, "_write_jsonl", also_a_new_file)
    result = build(fresh_settings, FakeEmbedder(), force=True)
    folder = _folder(fresh_settings, result.build_id)
    assert "future.jsonl" in [record.path for record in read_manifest(folder).files]

    (folder / "future.jsonl").write_text('{"s": 2}\n', encoding="utf-8")  # same size, other bytes

    with pytest.raises(IndexDamaged, match="future.jsonl 已被改动"):
        load_snapshot(fresh_settings.index_dir)


# --- damage is detected ----------------------------------------------------------------------


def _flip_last_byte(path: Path) -> None:
    data = bytearray(path.read_bytes())
    data[-1] ^= 0xFF
    path.write_bytes(bytes(data))


@pytest.mark.parametrize(
    "damage, complaint",
    [
        (lambda folder: (folder / "manifest.json").write_bytes((folder / "manifest.json").read_bytes()[:100]),
         "manifest.json 无法读取"),
        (lambda folder: (folder / "manifest.json").unlink(), "没有 manifest.json"),
        (lambda folder: (folder / "manifest.json").write_text("[]", encoding="utf-8"), "不是 JSON 对象"),
        (lambda folder: _drop_last_lines(folder / "chunks.jsonl", 2), "chunks.jsonl 有"),
        (lambda folder: (folder / "vectors.npy").unlink(), "缺少 vectors.npy"),
        (lambda folder: shutil.rmtree(folder / "keyword"), "keyword/"),
        (lambda folder: _flip_last_byte(folder / "context_vectors.npy"), "context_vectors.npy"),
    ],
    ids=["truncated-manifest", "no-manifest", "manifest-not-an-object", "chunks-dropped", "vectors-missing",
         "keyword-missing", "context-vectors-changed"],
)  # fmt: skip
def test_a_damaged_build_is_refused_with_the_reason_and_the_fix(fresh_settings, damage, complaint):
    damage(_folder(fresh_settings))

    with pytest.raises(IndexDamaged) as caught:
        load_snapshot(fresh_settings.index_dir)

    assert complaint in caught.value.message and "请运行 qa build --force" in caught.value.message


def test_another_builds_faiss_index_is_refused(two_builds):
    # The hostile test: faiss.index from an older build (fewer vectors); answers cited the wrong articles.
    settings, older, newer = two_builds
    shutil.copyfile(_folder(settings, older) / "faiss.index", _folder(settings, newer) / "faiss.index")

    with pytest.raises(IndexDamaged, match="faiss.index 有"):
        load_snapshot(settings.index_dir)


def test_counts_that_disagree_are_refused_even_when_the_hashes_match(fresh_settings):
    # A build written wrongly (its manifest describes the files it has, but they do not fit together).
    folder = _folder(fresh_settings)
    _drop_last_lines(folder / "chunks.jsonl", 1)
    manifest = read_manifest(folder)
    manifests.write_manifest(folder, manifest.with_contents(manifest.counts, manifests.file_records(folder)))

    with pytest.raises(IndexDamaged, match=r"chunks 为 \d+，清单记录的是 \d+.*数目不一致"):
        load_snapshot(fresh_settings.index_dir)


# --- never served; fallback; remembered -------------------------------------------------------


def test_the_engine_falls_back_to_the_newest_good_build_and_says_why(two_builds, api_web_dir):
    settings, older, newer = two_builds
    _drop_last_lines(_folder(settings, newer) / "chunks.jsonl", 2)
    engine = open_engine(settings, FakeEmbedder())

    answer = engine.ask(YUNSHAN_QUESTION)

    assert engine.snapshot().build_id == older
    assert answer.citations[0].issue_id == "2024-03" and "13.5吨" in answer.citations[0].passage
    app = create_app(settings, engine)
    app.config.update(TESTING=True, WEB_DIR=api_web_dir)
    health = app.test_client().get("/healthz")
    assert health.status_code == 200
    body = health.get_json()
    assert body["status"] == "degraded" and body["build_id"] == older
    assert newer in body["problem"] and "chunks.jsonl" in body["problem"] and older in body["problem"]
    assert app.test_client().post("/api/ask", json={"question": YUNSHAN_QUESTION}).status_code == 200


def test_a_serving_engine_keeps_its_build_when_current_switches_to_a_damaged_one(two_builds):
    settings, older, newer = two_builds
    switch_to(settings.index_dir, older)
    engine = open_engine(settings, FakeEmbedder())
    assert engine.snapshot().build_id == older
    (_folder(settings, newer) / "vectors.npy").write_bytes(b"damaged")
    switch_to(settings.index_dir, newer)

    assert engine.snapshot().build_id == older
    assert newer in engine.status().problem


def test_a_damaged_build_is_tried_once_not_on_every_request(fresh_settings, monkeypatch, caplog):
    _drop_last_lines(_folder(fresh_settings) / "chunks.jsonl", 2)
    engine = open_engine(fresh_settings, FakeEmbedder())
    loads = []
    load = qa.engine.load_best
    monkeypatch.setattr(qa.engine, "load_best", lambda *args: loads.append(1) or load(*args))

    for _ in range(5):
        with pytest.raises(IndexDamaged, match="chunks.jsonl"):
            engine.ask(YUNSHAN_QUESTION)

    assert loads == [1]
    assert "Traceback" not in caplog.text
    # A new build is a new id: it is loaded at once.
    build(fresh_settings, FakeEmbedder(), force=True)
    assert engine.ask(YUNSHAN_QUESTION).citations


def test_a_bad_build_is_answered_503_with_the_reason(fresh_settings, api_web_dir):
    (_folder(fresh_settings) / "manifest.json").write_text("{", encoding="utf-8")
    app = create_app(fresh_settings, open_engine(fresh_settings, FakeEmbedder()))
    app.config.update(TESTING=True, WEB_DIR=api_web_dir)
    client = app.test_client()

    health = client.get("/healthz")
    asked = client.post("/api/ask", json={"question": YUNSHAN_QUESTION})

    assert health.status_code == asked.status_code == 503
    assert health.get_json()["error"]["code"] == "index_damaged"
    assert "qa build --force" in asked.get_json()["error"]["message"]


# --- rebuilding never depends on the current build --------------------------------------------


@pytest.mark.parametrize("force", [True, False], ids=["build --force", "build"])
def test_a_rebuild_repairs_a_damaged_current_build(fresh_settings, force):
    old_id = current_build_id(fresh_settings.index_dir)
    (_folder(fresh_settings) / "manifest.json").write_text('{"format": 2, "trunc', encoding="utf-8")

    result = build(fresh_settings, FakeEmbedder(), force=force)

    assert result.changed and result.build_id != old_id  # not "up to date": the current build is unusable
    assert load_snapshot(fresh_settings.index_dir).build_id == result.build_id


def test_a_rebuild_reuses_vectors_only_from_an_intact_build(two_builds):
    settings, older, newer = two_builds
    (_folder(settings, newer) / "vectors.npy").write_bytes(b"\x93NUMPY garbage")

    result = build(settings, FakeEmbedder())

    assert result.changed
    snapshot = load_snapshot(settings.index_dir)
    fresh = FakeEmbedder().embed_passages(
        [embedding_text(snapshot.articles[c.article_id].title, c.text) for c in snapshot.chunks])
    assert snapshot.vectors.shape == fresh.shape
    assert abs(snapshot.vectors - fresh).max() < 1e-6


# --- the manifest itself, and a build damaged while it is loaded or served ---------------------


def _later(path: Path) -> None:
    """Give a file written in place a later modification time. A write within the clock tick of the load
    (the file system's clock is coarse, a few ms) keeps the file's times; damage found later has later times."""
    status = path.stat()
    os.utime(path, ns=(status.st_atime_ns, status.st_mtime_ns + 10**9))


def _flip_a_byte(path: Path, at: int) -> None:
    content = bytearray(path.read_bytes())
    content[at] ^= 0xFF
    path.write_bytes(bytes(content))
    _later(path)


def _alter_a_sentence(path: Path) -> str:
    """Another valid sentences.jsonl, as long as the original and with as many rows: only counts would not see it."""
    rows = [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines()]
    rows[0]["text"] = "十" * len(rows[0]["text"])
    return "".join(json.dumps(row, ensure_ascii=False) + "\n" for row in rows)


def _rewrite_manifest(folder: Path, change) -> None:
    value = json.loads((folder / "manifest.json").read_text(encoding="utf-8"))
    change(value)
    (folder / "manifest.json").write_text(json.dumps(value, ensure_ascii=False, indent=2) + "\n", encoding="utf-8")


def _drop_sentences_jsonl(value: dict) -> None:
    value["files"] = [record for record in value["files"] if record["path"] != "sentences.jsonl"]


def _zero_a_text_hash(value: dict) -> None:
    value["text_hashes"][0] = "0" * len(value["text_hashes"][0])


@pytest.mark.parametrize("change", [_drop_sentences_jsonl, _zero_a_text_hash], ids=["file-unlisted", "text-hash"])
def test_an_edited_manifest_is_refused(fresh_settings, change):
    # Found: with sentences.jsonl taken out of the list, any sentences of the same number loaded and were
    # quoted; a changed text hash would have made the next build reuse the wrong vectors.
    folder = _folder(fresh_settings)
    _rewrite_manifest(folder, change)
    if change is _drop_sentences_jsonl:
        (folder / "sentences.jsonl").write_text(_alter_a_sentence(folder / "sentences.jsonl"), encoding="utf-8")

    with pytest.raises(IndexDamaged, match="manifest.json 已被改动") as caught:
        load_snapshot(fresh_settings.index_dir)

    assert "请运行 qa build --force" in caught.value.message


def test_a_file_changed_between_its_check_and_its_read_is_refused(fresh_settings, monkeypatch):
    folder = _folder(fresh_settings)
    read_evidence = qa.index._read_evidence

    def changed_meanwhile(build_folder):  # another process replaces the file after it was hashed
        sentences = build_folder / "sentences.jsonl"
        replacement = build_folder / "sentences.jsonl.new"
        replacement.write_text(_alter_a_sentence(sentences), encoding="utf-8")
        os.replace(replacement, sentences)
        return read_evidence(build_folder)

    monkeypatch.setattr(qa.index, "_read_evidence", changed_meanwhile)

    with pytest.raises(IndexDamaged, match="sentences.jsonl 在载入过程中被改动"):
        load_snapshot(fresh_settings.index_dir)
    assert (folder / "sentences.jsonl").exists()


def test_healthz_reports_the_served_build_damaged_on_disk_and_answers_go_on(fresh_settings, api_web_dir):
    # Found: a byte flipped in faiss.index, sentences.jsonl cut in half and a keyword file truncated under
    # a running `qa serve`: /healthz kept saying "ok", and a restart then had no build to serve.
    folder = _folder(fresh_settings)
    engine = open_engine(fresh_settings, FakeEmbedder())
    app = create_app(fresh_settings, engine)
    app.config.update(TESTING=True, WEB_DIR=api_web_dir)
    client = app.test_client()
    assert client.get("/healthz").get_json()["status"] == "ok"
    _later(folder / "vectors.npy")  # touched, content unchanged: still ok
    assert client.get("/healthz").get_json()["status"] == "ok"

    _flip_a_byte(folder / "faiss.index", 200)
    _drop_last_lines(folder / "sentences.jsonl", 40)
    keyword_file = next(path for path in sorted((folder / "keyword").iterdir()) if path.stat().st_size > 100)
    keyword_file.write_bytes(keyword_file.read_bytes()[:100])

    health = client.get("/healthz")
    body = health.get_json()
    assert health.status_code == 200 and body["status"] == "degraded"
    assert "在磁盘上已损坏" in body["problem"] and "请运行 qa build --force" in body["problem"]
    assert "faiss.index 已被改动" in body["problem"] and "sentences.jsonl 有" in body["problem"]
    assert f"keyword/{keyword_file.name} 有 100 字节" in body["problem"]
    asked = client.post("/api/ask", json={"question": YUNSHAN_QUESTION})  # the copy verified at load answers
    assert asked.status_code == 200 and "13.5吨" in asked.get_json()["citations"][0]["passage"]
    # A new process would not serve it.
    with pytest.raises(IndexDamaged):
        open_engine(fresh_settings, FakeEmbedder()).status()


def test_healthz_reports_a_served_manifest_changed_or_removed(fresh_settings, api_web_dir):
    folder = _folder(fresh_settings)
    app = create_app(fresh_settings, open_engine(fresh_settings, FakeEmbedder()))
    app.config.update(TESTING=True, WEB_DIR=api_web_dir)
    client = app.test_client()
    assert client.get("/healthz").get_json()["status"] == "ok"

    _rewrite_manifest(folder, _zero_a_text_hash)
    assert "manifest.json 已被改动" in client.get("/healthz").get_json()["problem"]
    (folder / "manifest.json").unlink()
    assert "缺少 manifest.json" in client.get("/healthz").get_json()["problem"]
