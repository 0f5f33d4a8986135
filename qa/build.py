"""Build the index: the bulletin folder's files → issues → chunks → vectors (reusing those already
embedded) → a new build directory → atomic switch. Unchanged sources are a no-op. Everything that
writes runs under the build lock (`build_lock`), which first settles an interrupted transaction."""

from __future__ import annotations

import hashlib
import logging
import shutil
import time
from contextlib import contextmanager
from dataclasses import dataclass, replace
from datetime import datetime, timezone
from pathlib import Path
from typing import Callable, Iterator, Sequence

import numpy as np
from filelock import FileLock, Timeout

from . import index as store
from . import seeds, transaction
from .chunking import chunk_article, embedding_text
from .config import Settings
from .corpus import PARSER_VERSION
from .embed import ONNX_INT8, Embedder, runtime_of
from .errors import BadBulletin, BuildLocked, QAError, StorageError
from .ingest import SUPPORTED_SUFFIXES
from .keywords import KeywordTokenizer, article_places, corpus_terms, places_key
from .manifest import FORMAT_VERSION, Chunking, Manifest
from .schema import Chunk, Issue
from .seeds import SeedFile
from .sentences import evidence_units, sentence_context_text, sentence_embedding_text, term_stats

log = logging.getLogger(__name__)

LOCK_FILE = ".build.lock"
PLACES_CACHE = "places.json"


@dataclass(frozen=True, slots=True)
class BuildResult:
    build_id: str
    changed: bool
    issues: int
    articles: int
    chunks: int
    embedded: int  # chunks and sentences (alone and in context) that needed the model (the rest were reused)
    seconds: float
    sentences: int = 0


@contextmanager
def build_lock(settings: Settings, wait: float = 0) -> Iterator[None]:
    """Hold the build lock, waiting up to `wait` seconds for another build to finish.

    BuildLocked if it does not; StorageError (one readable line) for an index or seeds directory that
    cannot be written, whatever step hits it. An interrupted add or remove is settled first."""
    try:
        settings.index_dir.mkdir(parents=True, exist_ok=True)
        lock = FileLock(str(settings.index_dir / LOCK_FILE))
        lock.acquire(timeout=wait)
    except Timeout:
        raise BuildLocked(f"另一个索引构建正在进行（{settings.index_dir}），请等它结束后再试") from None
    except OSError as exc:
        raise StorageError.of(exc, f"索引目录 {settings.index_dir}") from None
    try:
        _recover(settings)
        yield
    except OSError as exc:
        raise StorageError.of(exc, f"索引目录 {settings.index_dir} 或简报目录 {settings.seeds_dir}") from None
    finally:
        lock.release()


def _recover(settings: Settings) -> None:
    settled = transaction.recover(settings.seeds_dir, store.current_build_id(settings.index_dir))
    if settled and not settled[1] and settled[0].build_id:  # its build was written but never served
        shutil.rmtree(store.build_dir(settings.index_dir, settled[0].build_id), ignore_errors=True)


def build(settings: Settings, embedder: Embedder, *, force: bool = False, progress: bool = False) -> BuildResult:
    """(Re)build the index from the seeds directory. Raises BuildLocked if another build runs."""
    started = time.perf_counter()
    with build_lock(settings):
        result, _, issue_ids = _build(settings, embedder, seeds.listing(settings.seeds_dir), force, progress)
        seeds.register(settings.seeds_dir, issue_ids)
    return replace(result, seconds=time.perf_counter() - started)


def load_corpus(seeds_dir: Path) -> list[Issue]:
    """Parse every bulletin in the seeds directory, each under its issue id."""
    return _parse(seeds.listing(seeds_dir))[0]


def _parse(files: Sequence[SeedFile]) -> tuple[list[Issue], dict[str, str]]:
    if not files:
        raise BadBulletin(f"简报目录中没有简报文件（{'、'.join(SUPPORTED_SUFFIXES)}）")
    parsed = [(seed, seeds.parse(seed)) for seed in files]
    issue_ids = seeds.assign_ids((seed, issue.id) for seed, issue in parsed)
    return [_renumbered(issue, issue_ids[seed.name]) for seed, issue in parsed], issue_ids


def _renumbered(issue: Issue, issue_id: str) -> Issue:
    if issue.id == issue_id:
        return issue
    articles = tuple(replace(a, id=f"{issue_id}/{a.ordinal:02d}", issue_id=issue_id) for a in issue.articles)
    return replace(issue, id=issue_id, articles=articles)


def _draft(settings: Settings, embedder: Embedder, files: Sequence[SeedFile], issue_ids: dict[str, str]) -> Manifest:
    """The manifest's description of a build of `files` (no contents yet; the dimension comes with the
    vectors, so a no-op build never loads the model)."""
    return Manifest(
        format=FORMAT_VERSION,
        parser=PARSER_VERSION,
        model=embedder.name,
        dimension=0,
        chunking=Chunking(settings.chunk_min_chars, settings.chunk_max_chars),
        sources={seed.name: seed.sha256 for seed in files},
        labels={seed.name: seed.label for seed in files if seed.label},
        issue_ids=issue_ids,
        runtime=runtime_of(embedder),
        build_id="",
        built_at="",
        text_hashes=(),
    )


def _build(
    settings: Settings,
    embedder: Embedder,
    files: Sequence[SeedFile],
    force: bool,
    progress: bool,
    before_switch: Callable[[str], object] | None = None,
) -> tuple[BuildResult, list[Issue], dict[str, str]]:
    """Build `files` and switch to the build; also returns the issues as indexed (empty for a no-op)
    and every file's issue id. Call under the build lock."""
    started = time.perf_counter()
    index_dir = settings.index_dir
    previous = None if force else _servable_build(index_dir)
    registered = {seed.name: seed.issue_id for seed in files if seed.issue_id}
    if previous and len(registered) == len(files):
        if previous.fingerprint() == _draft(settings, embedder, files, registered).fingerprint():
            store.clean_up(index_dir, keep=settings.builds_to_keep)  # a crashed build's .tmp- dir goes even now
            return BuildResult(previous.build_id, False, previous.count("issues") or 0,
                               previous.count("articles") or 0, previous.count("chunks") or 0, 0,
                               time.perf_counter() - started, previous.count("sentences") or 0), [], registered
    issues, issue_ids = _parse(files)
    articles = [a for issue in issues for a in issue.articles]
    titles = {a.id: a.title for a in articles}
    chunks: list[Chunk] = [
        c for a in articles for c in chunk_article(a, settings.chunk_min_chars, settings.chunk_max_chars)
    ]
    texts = [embedding_text(titles[c.article_id], c.text) for c in chunks]
    reusable = None if force else _reusable_build(index_dir, embedder)
    places = _PlacesMemo(store.read_cache(index_dir, reusable.build_id, PLACES_CACHE) if reusable else {})
    tokenizer = KeywordTokenizer(corpus_terms(articles, places))
    sentences, contexts = evidence_units(issues, tokenizer)
    sentence_texts = [sentence_embedding_text(titles[s.article_id], s) for s in sentences]
    context_texts = [sentence_context_text(titles[s.article_id], s) for s in sentences]
    known = _known_vectors(index_dir, reusable)
    vectors, embedded = _vectors(texts + sentence_texts + context_texts, embedder, known, progress)
    vectors, sentence_vectors, context_vectors = np.split(vectors, [len(texts), len(texts) + len(sentence_texts)])
    evidence = store.Evidence(tuple(sentences), sentence_vectors, contexts, term_stats(sentences), context_vectors)

    store.clean_up(index_dir, keep=settings.builds_to_keep)
    built_at = datetime.now(timezone.utc)
    draft = replace(
        _draft(settings, embedder, files, issue_ids),
        dimension=int(vectors.shape[1]),
        reader=_reader_version(),  # the weights that will answer from it (they load at serve time)
        build_id=built_at.strftime("%Y%m%dT%H%M%S%fZ"),
        built_at=built_at.isoformat(timespec="seconds"),
        text_hashes=tuple(_text_hash(embedder, t) for t in texts),
        sentence_hashes=tuple(_text_hash(embedder, t) for t in sentence_texts),
        context_hashes=tuple(_text_hash(embedder, t) for t in context_texts),
    )
    written = store.write_build(index_dir, draft, issues, chunks, vectors, tokenizer, evidence,
                                {PLACES_CACHE: places.found})
    if before_switch is not None:
        before_switch(written.build_id)
    store.switch_to(index_dir, written.build_id)
    store.clean_up(index_dir, keep=settings.builds_to_keep)
    log.info("索引 %s：%d 期、%d 篇文章、%d 个段落（新嵌入段落和句子 %d 个）", written.build_id, len(issues),
             len(articles), len(chunks), embedded)
    return BuildResult(written.build_id, True, len(issues), len(articles), len(chunks), embedded,
                       time.perf_counter() - started, len(sentences)), issues, issue_ids


def _servable_build(index_dir: Path) -> Manifest | None:
    """The current build's manifest if its files are intact; a rebuild never depends on it."""
    build_id = store.current_build_id(index_dir)
    if build_id is None:
        return None
    try:
        return store.verified_manifest(index_dir, build_id)
    except QAError as exc:
        log.warning("不复用当前索引：%s", exc.message)
        return None


def _reusable_build(index_dir: Path, embedder: Embedder) -> Manifest | None:
    """The newest intact build made with this model, whose vectors can be reused."""
    for build_id in reversed(store.finished_builds(index_dir)):
        try:
            manifest = store.verified_manifest(index_dir, build_id)
        except QAError:
            continue
        if manifest.model == embedder.name:
            return manifest
    return None


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


def _text_hash(embedder: Embedder, text: str) -> str:
    """Model and text, and the runtime for int8 vectors: a build never mixes int8 and fp32 vectors, so its
    manifest's runtime is true of every row. (fp32 keeps the key of the builds made before runtimes existed.)"""
    key = f"{embedder.name}\0{text}"
    if runtime_of(embedder) == ONNX_INT8:
        key = f"{embedder.name}\0{ONNX_INT8}\0{text}"
    return hashlib.sha256(key.encode()).hexdigest()[:32]


def _known_vectors(index_dir: Path, previous: Manifest | None) -> dict[str, np.ndarray]:
    """Text hash → vector of everything an intact earlier build embedded (chunks, sentences, sentences in context)."""
    if previous is None:
        return {}
    folder = store.build_dir(index_dir, previous.build_id)
    known = dict(zip(previous.text_hashes, np.load(folder / "vectors.npy")))
    known.update(zip(previous.sentence_hashes, np.load(folder / "sentence_vectors.npy")))
    known.update(zip(previous.context_hashes, np.load(folder / "context_vectors.npy")))
    return known


def _vectors(texts: list[str], embedder: Embedder, known: dict[str, np.ndarray], progress: bool):
    """Embed only the texts an earlier build did not already have (same model, same text)."""
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
    settings: Settings,
    embedder: Embedder,
    paths: list[Path],
    label: str | None = None,
    *,
    replace_id: str | None = None,
    origin: str | None = None,
    progress: bool = False,
    wait: float = 0,
    parsed: dict[str, Issue] | None = None,
) -> tuple[list[Issue], BuildResult]:
    """Add bulletin files to the seeds and the index as one transaction; returns the new issues as
    indexed. A file that does not parse, or whose issue id is taken (IssueTaken; see `replace_id`),
    changes nothing; content already in the seeds (by hash, whatever the name) is skipped. `parsed`
    (sha256 → issue) gives files already read, e.g. by qa.vet, so they are not read again."""
    started = time.perf_counter()
    with build_lock(settings, wait):
        change = transaction.begin_add(settings.seeds_dir, paths, label=label, replace_id=replace_id, origin=origin,
                                       progress=progress, parsed=parsed)
        if change is None:
            result, _, _ = _build(settings, embedder, seeds.listing(settings.seeds_dir), False, progress)
            return [], replace(result, seconds=time.perf_counter() - started)
        result, indexed = _in_transaction(settings, embedder, change, progress)
    added = {c.name for c in change.adds}
    return [issue for issue in indexed if issue.source in added], replace(result, seconds=time.perf_counter() - started)


def remove_issue(settings: Settings, embedder: Embedder, issue_id: str) -> tuple[str, BuildResult]:
    """Take an issue's bulletin file out of the seeds and the index, as one transaction."""
    started = time.perf_counter()
    with build_lock(settings):
        change = transaction.begin_remove(settings.seeds_dir, issue_id)
        result, _ = _in_transaction(settings, embedder, change, False)
    return change.removes[0].name, replace(result, seconds=time.perf_counter() - started)


def _in_transaction(settings: Settings, embedder: Embedder, change: transaction.Transaction, progress: bool):
    """Build the folder as `change` leaves it; commit once that build is in use, else roll back."""
    prepared: list[transaction.Transaction] = [change]
    try:
        result, indexed, _ = _build(settings, embedder, change.listing(), False, progress,
                                    before_switch=lambda build_id: prepared.append(change.prepared(build_id)))
    except BaseException:
        prepared[-1].settle(store.current_build_id(settings.index_dir))
        raise
    try:
        prepared[-1].commit()
    except OSError as exc:
        raise StorageError.of(exc, f"简报目录 {settings.seeds_dir}",
                              "新的索引已在使用，下一个 qa 命令会把这次改动补记到简报目录") from None
    return result, indexed
