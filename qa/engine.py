"""The question-answering engine the web app and CLI talk to: holds the current index build,
reloads it when a new build is switched in, and answers questions."""

from __future__ import annotations

import logging
import threading
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Protocol, Sequence

from .config import Settings
from .corpus import ISSUE_LABEL_RE, issue_id_for
from .embed import Embedder, load_embedder, runtime_of
from .errors import NotFound, QAError, shown
from .index import Snapshot, current_build_id, load_best, load_snapshot
from .manifest import damaged_on_disk
from .reader import Weights, load_weights, read
from .reader.question import parse_question, resolve_follow_up, visible_text
from .retrieve import QueryEncoder, candidates, search
from .schema import Answer, Article, Issue
from .seeds import sha256_of

log = logging.getLogger(__name__)

MODES = ("hybrid", "dense", "keyword")
READER_PASSAGES = 8  # passages whose sentences (and neighbours) the reader considers


def _issue_named(snapshot: Snapshot, text: str) -> str | None:
    """'2023年第6期里…' restricts the search to that issue, if the index has it."""
    label = ISSUE_LABEL_RE.search(text)
    issue_id = issue_id_for(label.group(0), "") if label else None
    return issue_id if issue_id is not None and snapshot.issue(issue_id) is not None else None


@dataclass(frozen=True, slots=True)
class Turn:
    """One earlier exchange of a conversation, sent along with a follow-up question."""

    question: str
    answer: str | None = None


@dataclass(frozen=True, slots=True)
class Status:
    build_id: str
    model: str
    issues: int
    articles: int
    chunks: int
    built_at: str
    sentences: int = 0
    reader: str = ""  # the version of the reader's trained weights answering
    problem: str | None = None  # why the build served is not the current one, or no longer verifies on disk


class Engine(Protocol):
    def ask(
        self,
        question: str,
        *,
        top_k: int = 5,
        mode: str = "hybrid",
        issue_id: str | None = None,
        history: Sequence[Turn] = (),
    ) -> Answer:
        """Raises IndexNotReady when no build is loaded, NotFound for an unknown issue_id."""

    def issues(self) -> list[Issue]:
        """All issues with their articles (Article.text included)."""

    def catalogue(self) -> tuple[list[Issue], str]:
        """The issues and the id of the build they come from."""

    def article(self, article_id: str) -> tuple[Issue, Article]:
        """Raises NotFound."""

    def related_articles(self, article_id: str) -> list[tuple[Issue, Article]]:
        """Articles on the same topic in other issues, most similar first ([] for an unknown id)."""

    def source_file(self, issue_id: str) -> tuple[Issue, Path]:
        """The bulletin file an issue was indexed from. Raises NotFound for an unknown issue, or
        when the file is gone or no longer what was indexed (its sha256 differs)."""

    def status(self) -> Status:
        """Raises IndexNotReady."""

    def close(self) -> None:
        """Stop the engine's own threads; the app closes an engine it opened (qa.http.app.close_app)."""


class BulletinEngine:
    """Answers from the current build; a request keeps the snapshot it started with, so a
    switch to a new build never disturbs requests in flight."""

    def __init__(self, settings: Settings, embedder: Embedder, weights: Weights | None = None):
        self.settings = settings
        self.embedder = embedder
        self._weights = weights
        self.encode = QueryEncoder(embedder)
        # The question's topic is embedded on another thread while the question itself is embedded and searched:
        # onnxruntime releases the GIL, so on 2 cores the second forward costs a new question little wall time.
        # The engine owns these threads: close() stops them.
        self._topics: ThreadPoolExecutor | None = ThreadPoolExecutor(max_workers=4, thread_name_prefix="topic")
        self._topics_lock = threading.Lock()
        self._snapshot: Snapshot | None = None
        self._failed: dict[str, QAError] = {}  # builds that could not be loaded: never retried
        self._lock = threading.Lock()

    def close(self) -> None:
        """Stop the topic threads once the embeddings already asked of them are done. Idempotent. A question asked
        after (one in flight while a server stops) is still answered, its topic embedded on its own thread."""
        with self._topics_lock:
            topics, self._topics = self._topics, None
        if topics is not None:
            topics.shutdown(wait=True)  # questions in flight still get their topic embedded

    def __enter__(self) -> "BulletinEngine":
        return self

    def __exit__(self, *exc_info) -> None:
        self.close()

    def _encode_aside(self, text: str) -> Future:
        """`text` embedded on a topic thread while the caller goes on (on the caller's thread once closed)."""
        with self._topics_lock:
            if self._topics is not None:
                return self._topics.submit(self.encode, text)
        encoded: Future = Future()
        encoded.set_result(self.encode(text))
        return encoded

    def snapshot(self, wait: bool = False) -> Snapshot:
        """The loaded build, switched first if CURRENT now names another one.

        One request loads the new build; others meanwhile keep answering from the old one,
        unless they `wait` (a request for an issue or article only the new build has). A build that
        fails its checks is remembered and not tried again: the engine keeps the build it has, or
        falls back to the newest good one, and raises only when there is none."""
        wanted = current_build_id(self.settings.index_dir)
        loaded = self._snapshot
        if loaded is not None and (wanted is None or wanted == loaded.build_id or wanted in self._failed):
            return loaded
        if loaded is None and wanted in self._failed:
            raise self._failed[wanted]
        if not self._lock.acquire(blocking=loaded is None or wait):
            return loaded
        try:
            if self._snapshot is None or (self._snapshot.build_id != wanted and wanted not in self._failed):
                self._load(wanted)
            return self._snapshot
        finally:
            self._lock.release()

    def _load(self, wanted: str | None) -> None:
        runtime = runtime_of(self.embedder)
        try:
            if self._snapshot is not None:  # a good build is being served: it stays if the new one fails
                snapshot, problem = load_snapshot(self.settings.index_dir, self.embedder.name, runtime), None
            else:
                snapshot, problem = load_best(self.settings.index_dir, self.embedder.name, runtime)
        except QAError as exc:
            if wanted is not None:
                self._failed[wanted] = exc
            if self._snapshot is None:
                raise  # the caller says why (503, or one line from qa serve)
            log.error("索引 %s 无法使用，继续使用 %s：%s", wanted, self._snapshot.build_id, exc.message)
            return
        if problem is not None and wanted is not None:
            self._failed[wanted] = problem
            log.error("索引 %s 无法使用，改用 %s：%s", wanted, snapshot.build_id, problem.message)
        self._snapshot = snapshot
        log.info("正在使用索引 %s", snapshot.build_id)

    @property
    def weights(self) -> Weights:
        """The reader's trained weights, loaded on first use (training needs an engine before any)."""
        if self._weights is None:
            self._weights = load_weights()
        return self._weights

    def prepare(self, text: str, *, mode: str = "hybrid", issue_id: str | None = None, snapshot: Snapshot | None = None):
        """The parsed question, the retrieved passages and the reader's candidate sentences."""
        snapshot = snapshot or self.snapshot()
        question = parse_question(text, snapshot.tokenizer, snapshot.evidence.stats)
        topic = self._encode_aside(question.topic) if question.topic and question.topic != text else None
        hits = search(snapshot, self.encode, text, top_k=READER_PASSAGES, mode=mode,
                      issue_id=issue_id or _issue_named(snapshot, text))
        return question, hits, candidates(snapshot, self.encode(text), hits, topic.result() if topic else None)

    def ask(self, question, *, top_k=5, mode="hybrid", issue_id=None, history=()) -> Answer:
        snapshot = self.snapshot()
        if issue_id is not None and snapshot.issue(issue_id) is None:
            snapshot = self.snapshot(wait=True)
            if snapshot.issue(issue_id) is None:
                raise NotFound(f"没有这一期：{shown(issue_id)}")
        asked = visible_text(question).strip()
        text = resolve_follow_up(asked, [visible_text(turn.question) for turn in history], snapshot.tokenizer)
        parsed, hits, found = self.prepare(text, mode=mode, issue_id=issue_id, snapshot=snapshot)
        answer = read(parsed, found, snapshot.evidence.stats, hits[:top_k], self.weights)
        resolved = text if text != asked else None
        return replace(answer, question=asked, resolved_question=resolved, build_id=snapshot.build_id)

    def issues(self) -> list[Issue]:
        return list(self.snapshot().issues)

    def catalogue(self) -> tuple[list[Issue], str]:
        """The issues and the build they come from (one snapshot: the list and its id agree)."""
        snapshot = self.snapshot()
        return list(snapshot.issues), snapshot.build_id

    def article(self, article_id: str) -> tuple[Issue, Article]:
        snapshot = self.snapshot()
        if article_id not in snapshot.articles:
            snapshot = self.snapshot(wait=True)
        article = snapshot.articles.get(article_id)
        if article is None:
            raise NotFound(f"没有这篇文章：{shown(article_id)}")
        return snapshot.issue(article.issue_id), article

    def related_articles(self, article_id: str) -> list[tuple[Issue, Article]]:
        snapshot = self.snapshot()
        related = (snapshot.articles.get(other) for other in snapshot.related.get(article_id, ()))
        return [(snapshot.issue(article.issue_id), article) for article in related if article is not None]

    def source_file(self, issue_id: str) -> tuple[Issue, Path]:
        snapshot = self.snapshot()
        issue = snapshot.issue(issue_id)
        if issue is None:
            raise NotFound(f"没有这一期：{shown(issue_id)}")
        path = (self.settings.seeds_dir / issue.source).resolve()  # Flask reads a relative path from its package
        indexed = snapshot.manifest.sources.get(issue.source)
        try:
            digest = sha256_of(path)
        except OSError:
            digest = None
        if digest is None or digest != indexed:
            raise NotFound(f"{issue.label} 的原文件已不在或已被更改：请重新建立索引（qa build）")
        return issue, path

    def status(self) -> Status:
        snapshot = self.snapshot()
        return Status(
            build_id=snapshot.build_id,
            model=snapshot.manifest.model,
            issues=len(snapshot.issues),
            articles=len(snapshot.articles),
            chunks=len(snapshot.chunks),
            built_at=snapshot.manifest.built_at,
            sentences=len(snapshot.evidence.sentences),
            reader=self.weights.version,
            problem=self._problem(snapshot),
        )

    def _problem(self, snapshot: Snapshot) -> str | None:
        """Why the build served is not simply the current, intact build (None when it is)."""
        wanted = current_build_id(self.settings.index_dir)
        passed_over = self._failed.get(wanted) if wanted not in (None, snapshot.build_id) else None
        problems = [f"正在使用 {snapshot.build_id}：{passed_over.message}"] if passed_over else []
        on_disk = snapshot.disk_problems()
        if on_disk:
            problems.append(damaged_on_disk(snapshot.build_id, on_disk))
        return "；".join(problems) or None


def open_engine(settings: Settings, embedder: Embedder | None = None, weights: Weights | None = None) -> BulletinEngine:
    """An engine over settings.index_dir; the model and the reader's weights load once, here. The caller
    owns it: close it (or use it in a `with` block) when done."""
    return BulletinEngine(settings, embedder or load_embedder(settings), weights)
