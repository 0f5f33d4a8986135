"""The index on disk and in memory: one self-describing directory per build, a CURRENT pointer.

index/
  CURRENT                 name of the build in use (switched atomically)
  builds/<build id>/      faiss.index, vectors.npy, keyword/, chunks.jsonl, articles.jsonl,
                          issues.jsonl, userdict.txt, sentences.jsonl, sentence_vectors.npy,
                          context_vectors.npy, contexts.jsonl, terms.json, related.json, manifest.json (written last,
                          lists every other file with its size and sha256)

A build is only loaded once its files match its manifest and its counts agree (qa.manifest); a loaded
snapshot can tell whether its directory still holds what it was read from.
"""

from __future__ import annotations

import json
import logging
import os
import shutil
from dataclasses import asdict, dataclass, field
from functools import cached_property
from pathlib import Path

import bm25s
import faiss
import numpy as np

from . import manifest as manifests
from .embed import runtimes_interchangeable
from .errors import IndexDamaged, IndexMismatch, IndexNotReady, QAError
from .keywords import KeywordTokenizer
from .manifest import FORMAT_VERSION, Manifest
from .related import RELATED_FILE, related_articles
from .schema import Article, Chunk, Issue, Period
from .seeds import display_order
from .sentences import ArticleContext, Sentence, TermStats

logging.getLogger("bm25s").setLevel(logging.WARNING)  # it sets DEBUG on itself and prints to our console
log = logging.getLogger(__name__)
# A search over a few thousand vectors takes microseconds; waking OpenMP's second thread for it took ~8 ms per
# question on 2 cores (and more with requests in parallel). Requests run side by side on their own threads.
faiss.omp_set_num_threads(1)

__all__ = ["FORMAT_VERSION", "Snapshot", "current_build_id", "load_snapshot", "load_best", "write_build"]

POINTER = "CURRENT"
BUILDS = "builds"
TEMP_PREFIX = ".tmp-"


@dataclass(frozen=True)
class Evidence:
    """The build's evidence units: every sentence, its vector, each article's context, term stats, and
    each sentence's vector read under its title and heading (sentences.sentence_context_text)."""

    sentences: tuple[Sentence, ...]
    vectors: np.ndarray
    contexts: dict[str, ArticleContext]
    stats: TermStats
    context_vectors: np.ndarray

    @cached_property
    def cosine_scale(self) -> tuple[float, float]:
        """Mean and standard deviation of this model's cosine between two sentences of the build (up to 1,000
        sentences, evenly spaced): cosines in these units read alike whatever the embedding model."""
        rows = self.vectors[:: max(1, len(self.vectors) // 1000)][:1000]
        if len(rows) < 2:
            return 0.0, 1.0
        cosines = (rows @ rows.T)[np.triu_indices(len(rows), k=1)]
        return float(cosines.mean()), float(cosines.std()) or 1.0


@dataclass(frozen=True)
class Snapshot:
    """Everything one build needs to answer questions, loaded in memory."""

    build_id: str
    manifest: Manifest
    issues: tuple[Issue, ...]
    articles: dict[str, Article]
    chunks: tuple[Chunk, ...]
    vectors: np.ndarray
    dense: faiss.Index
    keyword: bm25s.BM25
    tokenizer: KeywordTokenizer
    evidence: Evidence
    related: dict[str, tuple[str, ...]] = field(default_factory=dict)  # article id → same topic, other issues
    disk: manifests.DiskCheck | None = field(default=None, compare=False, repr=False)  # the files it was read from

    def disk_problems(self) -> list[str]:
        """Why the build's directory no longer holds what this snapshot was loaded from (cheap; see DiskCheck)."""
        return self.disk.problems() if self.disk is not None else []

    def issue(self, issue_id: str) -> Issue | None:
        return next((issue for issue in self.issues if issue.id == issue_id), None)

    @cached_property
    def sentence_rows(self) -> dict[str, range]:
        """Article id → the rows of its sentences in evidence.sentences (they are stored in order)."""
        rows: dict[str, list[int]] = {}
        for row, sentence in enumerate(self.evidence.sentences):
            rows.setdefault(sentence.article_id, []).append(row)
        return {article_id: range(r[0], r[-1] + 1) for article_id, r in rows.items()}

    @cached_property
    def article_chunks(self) -> dict[str, tuple[Chunk, ...]]:
        """Article id → its passages, in order."""
        found: dict[str, list[Chunk]] = {}
        for chunk in self.chunks:
            found.setdefault(chunk.article_id, []).append(chunk)
        return {article_id: tuple(sorted(chunks, key=lambda c: c.start)) for article_id, chunks in found.items()}


def current_build_id(index_dir: Path) -> str | None:
    try:
        return (index_dir / POINTER).read_text(encoding="utf-8").strip() or None
    except FileNotFoundError:
        return None


def build_dir(index_dir: Path, build_id: str) -> Path:
    return index_dir / BUILDS / build_id


def finished_builds(index_dir: Path) -> list[str]:
    """Ids of the finished build directories, oldest first (ids sort by build time)."""
    builds = index_dir / BUILDS
    if not builds.is_dir():
        return []
    return sorted(p.name for p in builds.iterdir() if p.is_dir() and not p.name.startswith(TEMP_PREFIX))


def verified_manifest(index_dir: Path, build_id: str) -> Manifest:
    """The manifest of a build whose files all match it; IndexDamaged or IndexMismatch otherwise."""
    return _verified(index_dir, build_id)[0]


def _verified(index_dir: Path, build_id: str) -> tuple[Manifest, dict[str, manifests.Stamp]]:
    folder = build_dir(index_dir, build_id)
    if not folder.is_dir():
        raise IndexNotReady(f"{index_dir / POINTER} 指向的索引 {build_id} 不存在：请运行 qa build")
    return manifests.read_checked(folder)


def dense_index(vectors: np.ndarray) -> faiss.Index:
    """Inner product over normalized vectors (= cosine), with chunk row numbers as ids."""
    index = faiss.IndexIDMap2(faiss.IndexFlatIP(vectors.shape[1]))
    if len(vectors):
        index.add_with_ids(vectors, np.arange(len(vectors), dtype=np.int64))
    return index


def write_build(
    index_dir: Path,
    manifest: Manifest,
    issues: list[Issue],
    chunks: list[Chunk],
    vectors: np.ndarray,
    tokenizer: KeywordTokenizer,
    evidence: Evidence,
    caches: dict[str, object] | None = None,
) -> Manifest:
    """Write a complete build into a temp directory, then rename it into place. The manifest is
    written last, with the counts and every file's size and sha256; it is returned as written.

    `caches`: JSON files of work the next build may reuse (read_cache); never needed to answer."""
    temp = index_dir / BUILDS / f"{TEMP_PREFIX}{manifest.build_id}"
    temp.mkdir(parents=True)
    for name, content in (caches or {}).items():
        _write_json(temp / name, content)
    np.save(temp / "vectors.npy", vectors)
    dense = dense_index(vectors)
    faiss.write_index(dense, str(temp / "faiss.index"))
    keyword = bm25s.BM25()
    keyword.index([tokenizer.tokens(chunk.text) or [""] for chunk in chunks], show_progress=False)
    keyword.save(str(temp / "keyword"), show_progress=False)
    (temp / "userdict.txt").write_text("\n".join(tokenizer.user_terms) + "\n", encoding="utf-8")
    _write_jsonl(temp / "issues.jsonl", ({k: v for k, v in asdict(i).items() if k != "articles"} for i in issues))
    _write_jsonl(temp / "articles.jsonl", (asdict(a) for i in issues for a in i.articles))
    _write_jsonl(temp / "chunks.jsonl", (asdict(c) for c in chunks))
    np.save(temp / "sentence_vectors.npy", evidence.vectors)
    np.save(temp / "context_vectors.npy", evidence.context_vectors)
    _write_jsonl(temp / "sentences.jsonl", (_sentence_row(s) for s in evidence.sentences))
    _write_jsonl(temp / "contexts.jsonl", (asdict(c) for c in evidence.contexts.values()))
    _write_json(temp / "terms.json", asdict(evidence.stats))
    _write_json(temp / RELATED_FILE, related_articles([a for i in issues for a in i.articles], chunks, vectors))
    counts = {
        "issues": len(issues),
        "articles": sum(len(i.articles) for i in issues),
        **_measured(chunks, vectors, dense, keyword, evidence),
    }
    written = manifest.with_contents(counts.items(), manifests.file_records(temp))
    manifests.write_manifest(temp, written)
    _fsync_tree(temp)
    os.replace(temp, build_dir(index_dir, manifest.build_id))
    return written


def _measured(chunks, vectors: np.ndarray, dense: faiss.Index, keyword: bm25s.BM25, evidence: Evidence) -> dict:
    """The counts every build must agree on (manifest.SAME_COUNTS), measured on the loaded parts."""
    return {
        "chunks": len(chunks),
        "vectors": int(vectors.shape[0]),
        "dense": int(dense.ntotal),
        "keyword": int(keyword.scores["num_docs"]),
        "sentences": len(evidence.sentences),
        "sentence_vectors": int(evidence.vectors.shape[0]),
        "context_vectors": int(evidence.context_vectors.shape[0]),
    }


def _fsync_tree(folder: Path) -> None:
    """Flush the build's files before it is renamed into place: a power cut leaves whole files or none."""
    for path in [*folder.rglob("*"), folder]:
        if path.is_file() or path == folder:
            descriptor = os.open(path, os.O_RDONLY)
            try:
                os.fsync(descriptor)
            finally:
                os.close(descriptor)


def read_cache(index_dir: Path, build_id: str, name: str) -> dict:
    """A cache file of a finished build; an unreadable or missing one is empty (the work is redone)."""
    try:
        content = json.loads((build_dir(index_dir, build_id) / name).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return {}
    return content if isinstance(content, dict) else {}


def switch_to(index_dir: Path, build_id: str) -> None:
    """Atomically point CURRENT at a finished build."""
    temp = index_dir / f"{POINTER}.tmp"
    temp.write_text(build_id + "\n", encoding="utf-8")
    with open(temp, "rb") as handle:
        os.fsync(handle.fileno())
    os.replace(temp, index_dir / POINTER)


def clean_up(index_dir: Path, keep: int) -> None:
    """Remove temp builds left by crashed runs, damaged builds, and all but the newest `keep` intact
    finished builds. The current build always stays."""
    builds = index_dir / BUILDS
    if not builds.exists():
        return
    current = current_build_id(index_dir)
    for path in builds.iterdir():
        if path.name.startswith(TEMP_PREFIX):
            shutil.rmtree(path, ignore_errors=True)
    intact = []
    for build_id in finished_builds(index_dir):
        try:
            verified_manifest(index_dir, build_id)
            intact.append(build_id)
        except QAError as exc:
            if build_id != current:
                log.warning("删除索引 %s：%s", build_id, exc.message)
                shutil.rmtree(build_dir(index_dir, build_id), ignore_errors=True)
    for build_id in intact[:-keep] if keep > 0 else intact:
        if build_id != current:
            shutil.rmtree(build_dir(index_dir, build_id), ignore_errors=True)


def load_snapshot(
    index_dir: Path, model_name: str | None = None, runtime: str | None = None, build_id: str | None = None
) -> Snapshot:
    """Load and check a build (by default the current one).

    IndexNotReady if there is none, IndexMismatch if it was built another way, IndexDamaged if a
    file does not match the manifest or the counts disagree. `runtime` is what will embed the
    questions; the build's vectors must come from the same runtime or an interchangeable one
    (qa.embed.INTERCHANGEABLE_RUNTIMES)."""
    build_id = build_id or current_build_id(index_dir)
    if build_id is None:
        raise IndexNotReady(f"{index_dir} 中还没有索引：请先运行 qa build")
    manifest, stamps = _verified(index_dir, build_id)
    if model_name is not None and manifest.model != model_name:
        raise IndexMismatch(
            f"索引 {build_id} 用模型 {manifest.model!r} 构建，不是 {model_name!r}："
            "请运行 qa build --force（或把 QA_EMBED_MODEL 设为构建时的模型）"
        )
    if runtime is not None and not runtimes_interchangeable(manifest.runtime, runtime):
        raise IndexMismatch(
            f"索引 {build_id} 的向量由 {manifest.runtime} 计算，无法与 {runtime} 计算的问题向量比较："
            "请运行 qa build --force（或把 QA_EMBED_RUNTIME 设为构建时的运行时）"
        )
    disk = manifests.DiskCheck(build_dir(index_dir, build_id), manifest, stamps)
    try:
        snapshot = _read_snapshot(build_dir(index_dir, build_id), manifest, disk)
    except Exception as exc:  # files that match their hashes but do not load: written by a broken build
        raise manifests.damaged(build_id, [f"无法载入（{type(exc).__name__}: {exc}）"]) from exc
    # A file written between its hash and its read would be served unchecked: its stamp tells.
    problems = [f"{path} 在载入过程中被改动" for path in disk.changed_since_load()]
    problems += manifests.count_problems(manifest, _snapshot_counts(snapshot))
    if problems:
        raise manifests.damaged(build_id, problems)
    return snapshot


def _read_snapshot(folder: Path, manifest: Manifest, disk: manifests.DiskCheck) -> Snapshot:
    articles = [Article(**row) for row in _read_jsonl(folder / "articles.jsonl")]
    by_issue: dict[str, list[Article]] = {}
    for article in articles:
        by_issue.setdefault(article.issue_id, []).append(article)
    issues = tuple(display_order(
        Issue(**row, articles=tuple(by_issue.get(row["id"], ()))) for row in _read_jsonl(folder / "issues.jsonl")
    ))
    user_terms = (folder / "userdict.txt").read_text(encoding="utf-8").splitlines()
    return Snapshot(
        build_id=folder.name,
        manifest=manifest,
        issues=issues,
        articles={a.id: a for a in articles},
        chunks=tuple(Chunk(**row) for row in _read_jsonl(folder / "chunks.jsonl")),
        vectors=np.load(folder / "vectors.npy"),
        dense=faiss.read_index(str(folder / "faiss.index")),
        keyword=bm25s.BM25.load(str(folder / "keyword"), show_progress=False, verbosity=0),
        tokenizer=KeywordTokenizer(user_terms),
        evidence=_read_evidence(folder),
        related=_read_related(folder / RELATED_FILE),
        disk=disk,
    )


def _snapshot_counts(snapshot: Snapshot) -> dict[str, int]:
    return {
        "issues": len(snapshot.issues),
        "articles": len(snapshot.articles),
        **_measured(snapshot.chunks, snapshot.vectors, snapshot.dense, snapshot.keyword, snapshot.evidence),
    }


def load_best(
    index_dir: Path, model_name: str | None = None, runtime: str | None = None
) -> tuple[Snapshot, QAError | None]:
    """The current build, or if it cannot be served the newest build that can, with the reason the
    current one was passed over (None when it is served). Raises the current build's error when no
    build can be served."""
    current = current_build_id(index_dir)
    try:
        return load_snapshot(index_dir, model_name, runtime), None
    except (IndexDamaged, IndexMismatch, IndexNotReady) as problem:
        if current is None:
            raise
        for build_id in reversed(finished_builds(index_dir)):
            if build_id == current:
                continue
            try:
                return load_snapshot(index_dir, model_name, runtime, build_id), problem
            except (IndexDamaged, IndexMismatch, IndexNotReady) as exc:
                log.info("索引 %s 也无法使用：%s", build_id, exc.message)
        raise problem from None


def _sentence_row(sentence: Sentence) -> dict:
    row = asdict(sentence)
    for key in ("stated", "in_force"):
        row[key] = {"years": sorted(row[key]["years"]), "part": row[key]["part"]}
    return row


def _sentence_of(row: dict) -> Sentence:
    for key in ("stated", "in_force"):
        row[key] = Period(frozenset(row[key]["years"]), row[key]["part"])
    row["places"], row["tokens"] = tuple(row["places"]), tuple(row["tokens"])
    return Sentence(**row)


def _read_evidence(folder: Path) -> Evidence:
    contexts = [ArticleContext(**{k: tuple(v) if isinstance(v, list) else v for k, v in row.items()})
                for row in _read_jsonl(folder / "contexts.jsonl")]
    stats = json.loads((folder / "terms.json").read_text(encoding="utf-8"))
    return Evidence(
        sentences=tuple(_sentence_of(row) for row in _read_jsonl(folder / "sentences.jsonl")),
        vectors=np.load(folder / "sentence_vectors.npy"),
        contexts={c.article_id: c for c in contexts},
        stats=TermStats(**stats),
        context_vectors=np.load(folder / "context_vectors.npy"),
    )


def _read_related(path: Path) -> dict[str, tuple[str, ...]]:
    rows = json.loads(path.read_text(encoding="utf-8"))
    return {article_id: tuple(other for other, _score in others) for article_id, others in rows.items()}


def _write_json(path: Path, value: object) -> None:
    path.write_text(json.dumps(value, ensure_ascii=False, indent=2) + "\n", encoding="utf-8")


def _write_jsonl(path: Path, rows) -> None:
    with open(path, "w", encoding="utf-8") as handle:
        for row in rows:
            handle.write(json.dumps(row, ensure_ascii=False) + "\n")


def _read_jsonl(path: Path) -> list[dict]:
    with open(path, encoding="utf-8") as handle:
        return [json.loads(line) for line in handle if line.strip()]
