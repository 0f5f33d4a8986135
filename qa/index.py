"""The index on disk and in memory: one self-describing directory per build, a CURRENT pointer.

index/
  CURRENT                 name of the build in use (switched atomically)
  builds/<build id>/      faiss.index, vectors.npy, keyword/, chunks.jsonl, articles.jsonl,
                          issues.jsonl, userdict.txt, sentences.jsonl, sentence_vectors.npy,
                          contexts.jsonl, terms.json, related.json, manifest.json (written last)
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

from .embed import TORCH_FP32, runtimes_interchangeable
from .errors import IndexMismatch, IndexNotReady
from .keywords import KeywordTokenizer
from .labels import display_order
from .related import RELATED_FILE, related_articles
from .schema import Article, Chunk, Issue, Period
from .sentences import ArticleContext, Sentence, TermStats

logging.getLogger("bm25s").setLevel(logging.WARNING)  # it sets DEBUG on itself and prints to our console
# A search over a few thousand vectors takes microseconds; waking OpenMP's second thread for it took ~8 ms per
# question on 2 cores (and more with requests in parallel). Requests run side by side on their own threads.
faiss.omp_set_num_threads(1)

FORMAT_VERSION = 2  # 2: evidence units (sentences, their vectors, contexts, term statistics)
POINTER = "CURRENT"
BUILDS = "builds"
TEMP_PREFIX = ".tmp-"


@dataclass(frozen=True)
class Evidence:
    """The build's evidence units: every sentence, its vector, each article's context, term stats."""

    sentences: tuple[Sentence, ...]
    vectors: np.ndarray
    contexts: dict[str, ArticleContext]
    stats: TermStats


@dataclass(frozen=True)
class Snapshot:
    """Everything one build needs to answer questions, loaded in memory."""

    build_id: str
    manifest: dict
    issues: tuple[Issue, ...]
    articles: dict[str, Article]
    chunks: tuple[Chunk, ...]
    vectors: np.ndarray
    dense: faiss.Index
    keyword: bm25s.BM25
    tokenizer: KeywordTokenizer
    evidence: Evidence
    related: dict[str, tuple[str, ...]] = field(default_factory=dict)  # article id → same topic, other issues

    def issue(self, issue_id: str) -> Issue | None:
        return next((issue for issue in self.issues if issue.id == issue_id), None)

    @cached_property
    def sentence_rows(self) -> dict[str, range]:
        """Article id → the rows of its sentences in evidence.sentences (they are stored in order)."""
        rows: dict[str, list[int]] = {}
        for row, sentence in enumerate(self.evidence.sentences):
            rows.setdefault(sentence.article_id, []).append(row)
        return {article_id: range(r[0], r[-1] + 1) for article_id, r in rows.items()}


def current_build_id(index_dir: Path) -> str | None:
    try:
        return (index_dir / POINTER).read_text(encoding="utf-8").strip() or None
    except FileNotFoundError:
        return None


def build_dir(index_dir: Path, build_id: str) -> Path:
    return index_dir / BUILDS / build_id


def read_manifest(index_dir: Path, build_id: str) -> dict:
    return json.loads((build_dir(index_dir, build_id) / "manifest.json").read_text(encoding="utf-8"))


def dense_index(vectors: np.ndarray) -> faiss.Index:
    """Inner product over normalized vectors (= cosine), with chunk row numbers as ids."""
    index = faiss.IndexIDMap2(faiss.IndexFlatIP(vectors.shape[1]))
    if len(vectors):
        index.add_with_ids(vectors, np.arange(len(vectors), dtype=np.int64))
    return index


def write_build(
    index_dir: Path,
    build_id: str,
    manifest: dict,
    issues: list[Issue],
    chunks: list[Chunk],
    vectors: np.ndarray,
    tokenizer: KeywordTokenizer,
    evidence: Evidence,
    caches: dict[str, object] | None = None,
) -> Path:
    """Write a complete build into a temp directory, then rename it into place. Manifest last.

    `caches`: JSON files of work the next build may reuse (read_cache); never needed to answer."""
    temp = index_dir / BUILDS / f"{TEMP_PREFIX}{build_id}"
    temp.mkdir(parents=True)
    for name, content in (caches or {}).items():
        _write_json(temp / name, content)
    np.save(temp / "vectors.npy", vectors)
    faiss.write_index(dense_index(vectors), str(temp / "faiss.index"))
    keyword = bm25s.BM25()
    keyword.index([tokenizer.tokens(chunk.text) or [""] for chunk in chunks], show_progress=False)
    keyword.save(str(temp / "keyword"), show_progress=False)
    (temp / "userdict.txt").write_text("\n".join(tokenizer.user_terms) + "\n", encoding="utf-8")
    _write_jsonl(temp / "issues.jsonl", ({k: v for k, v in asdict(i).items() if k != "articles"} for i in issues))
    _write_jsonl(temp / "articles.jsonl", (asdict(a) for i in issues for a in i.articles))
    _write_jsonl(temp / "chunks.jsonl", (asdict(c) for c in chunks))
    np.save(temp / "sentence_vectors.npy", evidence.vectors)
    _write_jsonl(temp / "sentences.jsonl", (_sentence_row(s) for s in evidence.sentences))
    _write_jsonl(temp / "contexts.jsonl", (asdict(c) for c in evidence.contexts.values()))
    _write_json(temp / "terms.json", asdict(evidence.stats))
    _write_json(temp / RELATED_FILE, related_articles([a for i in issues for a in i.articles], chunks, vectors))
    _write_json(temp / "manifest.json", manifest)
    final = build_dir(index_dir, build_id)
    os.replace(temp, final)
    return final


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
    """Remove temp builds left by crashed runs and all but the newest `keep` finished builds."""
    builds = index_dir / BUILDS
    if not builds.exists():
        return
    current = current_build_id(index_dir)
    finished = sorted(p for p in builds.iterdir() if not p.name.startswith(TEMP_PREFIX))
    for path in builds.iterdir():
        if path.name.startswith(TEMP_PREFIX):
            shutil.rmtree(path, ignore_errors=True)
    for path in finished[:-keep] if keep > 0 else finished:
        if path.name != current:
            shutil.rmtree(path, ignore_errors=True)


def load_snapshot(index_dir: Path, model_name: str | None = None, runtime: str | None = None) -> Snapshot:
    """Load the current build; IndexNotReady if none, IndexMismatch if built another way.

    `runtime` is what will embed the questions; the build's vectors must come from the same runtime or an
    interchangeable one (qa.embed.INTERCHANGEABLE_RUNTIMES). Builds from before runtimes were recorded used torch.
    """
    build_id = current_build_id(index_dir)
    if build_id is None or not (build_dir(index_dir, build_id) / "manifest.json").exists():
        raise IndexNotReady(f"{index_dir} 中还没有索引：请先运行 qa build")
    manifest = read_manifest(index_dir, build_id)
    if manifest.get("format") != FORMAT_VERSION:
        raise IndexMismatch(
            f"索引 {build_id} 的格式版本是 {manifest.get('format')}，本程序读取版本 {FORMAT_VERSION}："
            "请运行 qa build --force"
        )
    if model_name is not None and manifest.get("model") != model_name:
        raise IndexMismatch(
            f"索引 {build_id} 用模型 {manifest.get('model')!r} 构建，不是 {model_name!r}："
            "请运行 qa build --force（或把 QA_EMBED_MODEL 设为构建时的模型）"
        )
    built_by = manifest.get("runtime", TORCH_FP32)
    if runtime is not None and not runtimes_interchangeable(built_by, runtime):
        raise IndexMismatch(
            f"index {build_id} holds vectors made by {built_by}, which questions embedded by {runtime} cannot be "
            "compared with: run `qa build --force` (or set QA_EMBED_RUNTIME to the runtime it was built with)"
        )
    folder = build_dir(index_dir, build_id)
    articles = [Article(**row) for row in _read_jsonl(folder / "articles.jsonl")]
    by_issue: dict[str, list[Article]] = {}
    for article in articles:
        by_issue.setdefault(article.issue_id, []).append(article)
    issues = tuple(display_order(
        Issue(**row, articles=tuple(by_issue.get(row["id"], ()))) for row in _read_jsonl(folder / "issues.jsonl")
    ))
    user_terms = (folder / "userdict.txt").read_text(encoding="utf-8").splitlines()
    return Snapshot(
        build_id=build_id,
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
    )


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
    )


def _read_related(path: Path) -> dict[str, tuple[str, ...]]:
    """Builds made before related.json existed simply have no related articles."""
    if not path.exists():
        return {}
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
