"""Build and update the index: seeds → issues → chunks → vectors (reusing those already embedded)
→ a new build directory → atomic switch. One build at a time; unchanged sources are a no-op."""

from __future__ import annotations

import hashlib
import logging
import shutil
import time
from dataclasses import dataclass
from datetime import datetime, timezone
from pathlib import Path

import numpy as np
from filelock import FileLock, Timeout

from . import index as store
from .chunking import chunk_article, embedding_text
from .config import Settings
from .corpus import PARSER_VERSION, read_issue
from .ingest import SUPPORTED_SUFFIXES
from .labels import forget_label, read_issue_ids, read_labels, write_label
from .embed import ONNX_INT8, Embedder, runtime_of
from .errors import BadBulletin, BuildLocked
from .keywords import KeywordTokenizer, article_places, corpus_terms, places_key
from .schema import Chunk, Issue
from .sentences import evidence_units, sentence_embedding_text, term_stats

log = logging.getLogger(__name__)

PLACES_CACHE = "places.json"

@dataclass(frozen=True, slots=True)
class BuildResult:
    build_id: str
    changed: bool
    issues: int
    articles: int
    chunks: int
    embedded: int  # chunks and sentences that needed the model (the rest were reused)
    seconds: float
    sentences: int = 0


def bulletin_files(seeds_dir: Path) -> list[Path]:
    if not seeds_dir.is_dir():
        raise BadBulletin(f"简报目录 {seeds_dir} 不存在")
    return sorted(p for p in seeds_dir.iterdir() if p.is_file() and p.suffix.lower() in SUPPORTED_SUFFIXES)


def sha256_of(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def load_corpus(seeds_dir: Path) -> list[Issue]:
    """Parse every bulletin in the seeds directory; issue ids are made unique."""
    labels = read_labels(seeds_dir)
    fixed_ids = read_issue_ids(seeds_dir)
    issues: list[Issue] = []
    seen: set[str] = set()
    for path in bulletin_files(seeds_dir):
        issue = read_issue(path, labels.get(path.name))
        if fixed_ids.get(path.name, issue.id) != issue.id:
            issue = _renumbered(issue, fixed_ids[path.name])
        if issue.id in seen:
            issue = _renumbered(issue, f"{issue.id}-{len(seen) + 1}")
        seen.add(issue.id)
        issues.append(issue)
    if not issues:
        raise BadBulletin(f"{seeds_dir} 中没有简报文件（{'、'.join(SUPPORTED_SUFFIXES)}）")
    return issues


def _renumbered(issue: Issue, new_id: str) -> Issue:
    from dataclasses import replace

    articles = tuple(replace(a, id=f"{new_id}/{a.ordinal:02d}", issue_id=new_id) for a in issue.articles)
    return replace(issue, id=new_id, articles=articles)


def _fingerprint(settings: Settings, embedder: Embedder, sources: dict[str, str], labels: dict[str, str]) -> dict:
    return {
        "issue_ids": read_issue_ids(settings.seeds_dir),
        "format": store.FORMAT_VERSION,
        "parser": PARSER_VERSION,
        "model": embedder.name,
        "chunking": {"min_chars": settings.chunk_min_chars, "max_chars": settings.chunk_max_chars},
        "sources": sources,
        "labels": labels,
    }


def _build_lock(settings: Settings) -> FileLock:
    settings.index_dir.mkdir(parents=True, exist_ok=True)
    lock = FileLock(str(settings.index_dir / ".build.lock"))
    try:
        lock.acquire(timeout=0)
    except Timeout:
        raise BuildLocked(f"另一个索引构建正在进行（{settings.index_dir}），请等它结束后再试") from None
    return lock


def build(settings: Settings, embedder: Embedder, *, force: bool = False, progress: bool = False) -> BuildResult:
    """(Re)build the index from the seeds directory. Raises BuildLocked if another build runs."""
    started = time.perf_counter()
    lock = _build_lock(settings)
    try:
        return _build_locked(settings, embedder, force, progress, started)[0]
    finally:
        lock.release()


def _build_locked(
    settings: Settings, embedder: Embedder, force: bool, progress: bool, started: float
) -> tuple[BuildResult, list[Issue]]:
    """The build itself, under the lock; also returns the issues as indexed (empty for a no-op)."""
    index_dir = settings.index_dir
    files = bulletin_files(settings.seeds_dir)
    sources = {p.name: sha256_of(p) for p in files}
    labels = read_labels(settings.seeds_dir)
    fingerprint = _fingerprint(settings, embedder, sources, labels)
    previous_id = store.current_build_id(index_dir)
    previous = store.read_manifest(index_dir, previous_id) if previous_id and _has_manifest(index_dir, previous_id) else None
    if previous and not force and all(previous.get(k) == v for k, v in fingerprint.items()):
        store.clean_up(index_dir, keep=settings.builds_to_keep)  # a crashed build's .tmp- dir goes even now
        counts = previous["counts"]
        return BuildResult(previous_id, False, counts["issues"], counts["articles"], counts["chunks"], 0,
                           time.perf_counter() - started, counts.get("sentences", 0)), []

    issues = load_corpus(settings.seeds_dir)
    articles = [a for issue in issues for a in issue.articles]
    titles = {a.id: a.title for a in articles}
    chunks: list[Chunk] = [
        c for a in articles for c in chunk_article(a, settings.chunk_min_chars, settings.chunk_max_chars)
    ]
    texts = [embedding_text(titles[c.article_id], c.text) for c in chunks]
    reused_build = previous_id if previous and not force else None
    places = _PlacesMemo(store.read_cache(index_dir, reused_build, PLACES_CACHE) if reused_build else {})
    tokenizer = KeywordTokenizer(corpus_terms(articles, places))
    sentences, contexts = evidence_units(issues, tokenizer)
    sentence_texts = [sentence_embedding_text(titles[s.article_id], s) for s in sentences]
    known = _known_vectors(index_dir, reused_build) if reused_build else {}
    vectors, embedded = _vectors(texts + sentence_texts, embedder, known, progress)
    vectors, sentence_vectors = vectors[: len(texts)], vectors[len(texts) :]
    evidence = store.Evidence(tuple(sentences), sentence_vectors, contexts, term_stats(sentences))

    store.clean_up(index_dir, keep=settings.builds_to_keep)
    built_at = datetime.now(timezone.utc)
    build_id = built_at.strftime("%Y%m%dT%H%M%S%fZ")
    manifest = {
        **fingerprint,
        "dimension": int(vectors.shape[1]),
        "runtime": runtime_of(embedder),
        "reader": _reader_version(),  # the weights that will answer from it (they load at serve time)  # what computed every vector of this build (never a mix; see _vectors)
        "build_id": build_id,
        "built_at": built_at.isoformat(timespec="seconds"),
        "text_hashes": [_text_hash(embedder, t) for t in texts],
        "sentence_hashes": [_text_hash(embedder, t) for t in sentence_texts],
        "counts": {"issues": len(issues), "articles": len(articles), "chunks": len(chunks),
                   "sentences": len(sentences)},
    }
    store.write_build(index_dir, build_id, manifest, issues, chunks, vectors, tokenizer, evidence,
                      {PLACES_CACHE: places.found})
    store.switch_to(index_dir, build_id)
    store.clean_up(index_dir, keep=settings.builds_to_keep)
    log.info("build %s: %d issues, %d articles, %d chunks (%d embedded)", build_id, len(issues), len(articles),
             len(chunks), embedded)
    return BuildResult(build_id, True, len(issues), len(articles), len(chunks), embedded,
                       time.perf_counter() - started, len(sentences)), issues


class _PlacesMemo:
    """Place names per article (keywords.article_places), taken from the previous build's cache when the
    article is unchanged: an add then tags only the new articles."""

    def __init__(self, known: dict):
        self._known = known
        self.found: dict[str, list[str]] = {}

    def __call__(self, article) -> set[str]:
        key = places_key(article)
        cached = self._known.get(key)
        places = set(cached) if isinstance(cached, list) else article_places(article)
        self.found[key] = sorted(places)
        return places


def _reader_version() -> str | None:
    from .reader import ReaderUnavailable, load_weights

    try:
        return load_weights().version
    except ReaderUnavailable:
        return None


def _has_manifest(index_dir: Path, build_id: str) -> bool:
    return (store.build_dir(index_dir, build_id) / "manifest.json").exists()


def _text_hash(embedder: Embedder, text: str) -> str:
    """Model and text, and the runtime for int8 vectors: a build never mixes int8 and fp32 vectors, so its
    manifest's runtime is true of every row. (fp32 keeps the key of the builds made before runtimes existed.)"""
    key = f"{embedder.name}\0{text}"
    if runtime_of(embedder) == ONNX_INT8:
        key = f"{embedder.name}\0{ONNX_INT8}\0{text}"
    return hashlib.sha256(key.encode()).hexdigest()[:32]


def _known_vectors(index_dir: Path, previous_id: str) -> dict[str, np.ndarray]:
    """Text hash → vector of everything the previous build embedded (chunks and sentences)."""
    manifest = store.read_manifest(index_dir, previous_id)
    folder = store.build_dir(index_dir, previous_id)
    known = dict(zip(manifest.get("text_hashes", []), np.load(folder / "vectors.npy")))
    if manifest.get("sentence_hashes") and (folder / "sentence_vectors.npy").exists():
        known.update(zip(manifest["sentence_hashes"], np.load(folder / "sentence_vectors.npy")))
    return known


def _vectors(texts: list[str], embedder: Embedder, known: dict[str, np.ndarray], progress: bool):
    """Embed only the texts the previous build did not already have (same model, same text)."""
    hashes = [_text_hash(embedder, t) for t in texts]
    missing = [i for i, h in enumerate(hashes) if h not in known]
    vectors = np.zeros((len(texts), embedder.dimension), dtype=np.float32)
    if missing:
        fresh = embedder.embed_passages([texts[i] for i in missing], progress=progress)
        for row, i in enumerate(missing):
            vectors[i] = fresh[row]
    for i, h in enumerate(hashes):
        if h in known:
            vectors[i] = known[h]
    return vectors, len(missing)


def add_bulletins(
    settings: Settings, embedder: Embedder, paths: list[Path], label: str | None = None, *, progress: bool = False
) -> tuple[list[Issue], BuildResult]:
    """Check each file parses, copy it into the seeds directory, then update the index.

    A file that does not parse changes nothing. The same content already in the seeds (by hash,
    whatever the name) is skipped.
    """
    existing = {sha256_of(p): p.name for p in bulletin_files(settings.seeds_dir)}
    parsed: list[tuple[Path, Issue]] = []
    for path in paths:
        if not path.is_file():
            raise BadBulletin(f"{path}：文件不存在")
        digest = sha256_of(path)
        if digest in existing:
            log.info("%s: same content as %s, already added", path.name, existing[digest])
            continue
        parsed.append((path, read_issue(path, label, progress=progress)))
        existing[digest] = path.name
    for path, _issue in parsed:
        target = settings.seeds_dir / path.name
        if target.exists():
            raise BadBulletin(f"{path.name}：{settings.seeds_dir} 中已有同名的另一个文件")
    started = time.perf_counter()
    lock = _build_lock(settings)
    labels_before = read_labels(settings.seeds_dir)
    copied: list[Path] = []
    try:
        for path, _issue in parsed:
            shutil.copyfile(path, settings.seeds_dir / path.name)
            copied.append(settings.seeds_dir / path.name)
            if label:
                write_label(settings.seeds_dir, path.name, label)
        result, indexed = _build_locked(settings, embedder, False, progress, started)
    except BaseException:
        for target in copied:  # the index did not change, so neither do the seeds
            target.unlink(missing_ok=True)
            if target.name not in labels_before and label:
                forget_label(settings.seeds_dir, target.name)
        raise
    finally:
        lock.release()
    added = {path.name for path, _ in parsed}
    return [issue for issue in indexed if issue.source in added], result


def remove_issue(settings: Settings, embedder: Embedder, issue_id: str) -> tuple[str, BuildResult]:
    """Delete an issue's bulletin file from the seeds directory and rebuild without it."""
    from .errors import NotFound

    issues = load_corpus(settings.seeds_dir)
    issue = next((i for i in issues if i.id == issue_id), None)
    if issue is None:
        known = ", ".join(i.id for i in issues)
        raise NotFound(f"没有这一期：{issue_id}（现有：{known}）")
    if len(issues) == 1:
        raise BadBulletin(f"{issue_id} 是唯一的一期，索引不能为空")
    started = time.perf_counter()
    lock = _build_lock(settings)
    source = settings.seeds_dir / issue.source
    kept = source.read_bytes()
    label = read_labels(settings.seeds_dir).get(issue.source)
    try:
        source.unlink()
        forget_label(settings.seeds_dir, issue.source)
        result, _ = _build_locked(settings, embedder, False, False, started)
    except BaseException:
        source.write_bytes(kept)
        if label:
            write_label(settings.seeds_dir, issue.source, label)
        raise
    finally:
        lock.release()
    return issue.source, result
