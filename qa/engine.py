"""The question-answering engine the web app and CLI talk to: holds the current index build,
reloads it when a new build is switched in, and answers questions.

(Interface first; the implementation lands with the retrieval and answer stages.)
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Protocol, Sequence

from .schema import Answer, Article, Issue

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
