"""Readers' verdicts on answers (有用 / 不对, with an optional correction), kept in SQLite beside the
index, and exported as JSONL in the shape of the reader's training questions (train/questions/),
so that real corrections can become training data after a person has checked them."""

from __future__ import annotations

import re
import sqlite3
from contextlib import closing
from dataclasses import asdict, dataclass
from datetime import datetime, timezone
from pathlib import Path
from typing import Iterable, Iterator, Literal

from . import store

DB_FILE = store.DB_FILE
"""The service's database in the index directory (qa.store, WAL mode); the feedback table lives there."""

_COLUMNS = ("created_at", "verdict", "question", "resolved_question", "answer", "article_id", "article_title",
            "source", "answer_start", "answer_end", "confidence", "build_id", "note")

Verdict = Literal["useful", "wrong"]


@dataclass(frozen=True, slots=True)
class Feedback:
    verdict: Verdict
    question: str  # as asked
    resolved_question: str | None = None  # how a follow-up was read
    answer: str | None = None  # the answer text shown; None when the reader was told "not found"
    article_id: str | None = None  # the answer's citation
    article_title: str | None = None
    source: str | None = None  # the bulletin file of that article
    answer_start: int | None = None
    answer_end: int | None = None
    confidence: float | None = None
    build_id: str | None = None
    note: str | None = None  # for 不对: what the reader says the answer is
    created_at: str = ""
    id: int | None = None


def _now() -> str:
    return datetime.now(timezone.utc).isoformat(timespec="seconds")


class FeedbackStore:
    """One short connection per call, so request threads never share one; WAL lets readers and
    the one writer at a time work side by side."""

    def __init__(self, path: Path):
        self.path = path

    def _connect(self) -> sqlite3.Connection:
        return store.connect(self.path.parent)

    def add(self, feedback: Feedback) -> Feedback:
        stored = Feedback(**{**asdict(feedback), "created_at": feedback.created_at or _now(), "id": None})
        values = [getattr(stored, column) for column in _COLUMNS]
        with closing(self._connect()) as connection, connection:
            cursor = connection.execute(
                f"INSERT INTO feedback ({', '.join(_COLUMNS)}) VALUES ({', '.join('?' * len(_COLUMNS))})", values
            )
        return Feedback(**{**asdict(stored), "id": cursor.lastrowid})

    def since(self, since: datetime | None = None) -> list[Feedback]:
        """All feedback, oldest first; with `since`, only that given at or after it."""
        if not self.path.exists():
            return []
        query = f"SELECT id, {', '.join(_COLUMNS)} FROM feedback"
        arguments: tuple = ()
        if since is not None:
            query += " WHERE created_at >= ?"
            arguments = (since.astimezone(timezone.utc).isoformat(timespec="seconds"),)
        with closing(self._connect()) as connection:
            rows = connection.execute(query + " ORDER BY id", arguments).fetchall()
        return [Feedback(id=row[0], **dict(zip(_COLUMNS, row[1:]))) for row in rows]


_PLACEHOLDER_LEAD = re.compile(r"^\s*(?:正确(?:的)?答案(?:应该|应)?(?:是|为)?[：:，,]?)")


def training_rows(items: Iterable[Feedback]) -> Iterator[dict]:
    """Feedback as training questions: `answer`/`evidence` as far as the verdict tells them, and
    `type` left for the person who checks the row (train/check_questions.py), except that an
    agreed "not found" is `unanswerable`. The verdict and what was shown are kept under `feedback`."""
    for item in items:
        found = item.answer is not None
        row = {"id": f"fb-{item.id}", "question": item.resolved_question or item.question, "type": None,
               "file": item.source, "article": item.article_title, "answer": None, "evidence": None}
        if item.verdict == "useful" and found:
            row.update(answer=item.answer, evidence=item.answer)
        elif item.verdict == "useful":
            row.update(type="unanswerable", file=None, article=None)
        elif item.note:  # the page's placeholder invites "正确答案是……": the answer is what follows
            row.update(answer=_PLACEHOLDER_LEAD.sub("", item.note).strip() or item.note)
        row["feedback"] = {
            "verdict": item.verdict, "asked": item.question, "shown": item.answer, "note": item.note,
            "confidence": item.confidence, "build_id": item.build_id, "created_at": item.created_at,
        }
        yield row
