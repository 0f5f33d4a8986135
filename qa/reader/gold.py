"""Gold labels for labelled questions: which articles answer, and whether a text holds the answer.
Shared by training and `qa eval`; whitespace is ignored (the bulletins wrap lines mid-sentence)."""

from __future__ import annotations

import re

from ..schema import Article


def squash(text: str | None) -> str:
    return re.sub(r"\s+", "", text or "")


def answerable(row: dict) -> bool:
    return row.get("type") != "unanswerable" and row.get("answer") is not None


def gold_articles(row: dict, articles: dict[str, Article]) -> set[str]:
    """Ids of the articles a labelled question is about: the one whose text holds its evidence
    (or whose title is its `article`), and those named under `also`."""
    places = [row] + list(row.get("also") or [])
    found: set[str] = set()
    for place in places:
        evidence, title = squash(place.get("evidence")), squash(place.get("article"))
        by_text = {a.id for a in articles.values() if evidence and evidence in squash(a.text)}
        by_title = {a.id for a in articles.values() if title and squash(a.title) == title}
        found |= (by_text & by_title) or by_text or by_title
    return found


def holds_answer(row: dict, text: str | None) -> bool:
    return answerable(row) and squash(row["answer"]) in squash(text)
