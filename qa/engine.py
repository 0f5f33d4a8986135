"""The question-answering engine the web app and CLI talk to: holds the current index build,
reloads it when a new build is switched in, and answers questions."""

from __future__ import annotations

import logging
import threading
from dataclasses import dataclass
from typing import Protocol, Sequence

from .answer import answer as extract_answer
from .config import Settings
from .embed import Embedder, load_embedder, runtime_of
from .errors import NotFound
from .index import Snapshot, current_build_id, load_snapshot
from .questions import analyse, resolve_follow_up
from .retrieve import QueryEncoder, search
from .schema import Answer, Article, Issue

log = logging.getLogger(__name__)

MODES = ("hybrid", "dense", "keyword")


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

    def article(self, article_id: str) -> tuple[Issue, Article]:
        """Raises NotFound."""

    def status(self) -> Status:
        """Raises IndexNotReady."""


class BulletinEngine:
    """Answers from the current build; a request keeps the snapshot it started with, so a
    switch to a new build never disturbs requests in flight."""

    def __init__(self, settings: Settings, embedder: Embedder):
        self.settings = settings
        self.embedder = embedder
        self.encode = QueryEncoder(embedder)
        self._snapshot: Snapshot | None = None
        self._lock = threading.Lock()

    def snapshot(self, wait: bool = False) -> Snapshot:
        """The loaded build, switched first if CURRENT now names another one.

        One request loads the new build; others meanwhile keep answering from the old one,
        unless they `wait` (a request for an issue or article only the new build has)."""
        wanted = current_build_id(self.settings.index_dir)
        loaded = self._snapshot
        if loaded is not None and (wanted is None or wanted == loaded.build_id):
            return loaded
        if not self._lock.acquire(blocking=loaded is None or wait):
            return loaded
        try:
            if self._snapshot is None or self._snapshot.build_id != wanted:
                try:
                    self._snapshot = load_snapshot(self.settings.index_dir, self.embedder.name,
                                                   runtime_of(self.embedder))
                    log.info("serving build %s", self._snapshot.build_id)
                except Exception:
                    if self._snapshot is None:
                        raise
                    log.exception("could not load build %s; still serving %s", wanted, self._snapshot.build_id)
            return self._snapshot
        finally:
            self._lock.release()

    def ask(self, question, *, top_k=5, mode="hybrid", issue_id=None, history=()) -> Answer:
        snapshot = self.snapshot()
        if issue_id is not None and snapshot.issue(issue_id) is None:
            snapshot = self.snapshot(wait=True)
            if snapshot.issue(issue_id) is None:
                raise NotFound(f"没有这一期：{issue_id}")
        text = resolve_follow_up(question.strip(), [turn.question for turn in history], snapshot)
        parsed = analyse(snapshot, text)
        hits = search(snapshot, self.encode, text, top_k=top_k, mode=mode, issue_id=issue_id or parsed.issue_id)
        return extract_answer(snapshot, parsed, hits)

    def issues(self) -> list[Issue]:
        return list(self.snapshot().issues)

    def article(self, article_id: str) -> tuple[Issue, Article]:
        snapshot = self.snapshot()
        if article_id not in snapshot.articles:
            snapshot = self.snapshot(wait=True)
        article = snapshot.articles.get(article_id)
        if article is None:
            raise NotFound(f"没有这篇文章：{article_id}")
        return snapshot.issue(article.issue_id), article

    def status(self) -> Status:
        snapshot = self.snapshot()
        counts = snapshot.manifest["counts"]
        return Status(
            build_id=snapshot.build_id,
            model=snapshot.manifest["model"],
            issues=counts["issues"],
            articles=counts["articles"],
            chunks=counts["chunks"],
            built_at=snapshot.manifest["built_at"],
        )


def open_engine(settings: Settings, embedder: Embedder | None = None) -> BulletinEngine:
    """An engine over settings.index_dir; the model loads once, here."""
    return BulletinEngine(settings, embedder or load_embedder(settings))
