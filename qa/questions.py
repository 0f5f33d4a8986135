"""Understand a question: its kind (number, entity, how, issue), its key terms with weights, the
places it is anchored to, an issue it names, and how an elliptical follow-up reads in full."""

from __future__ import annotations

import math
import re
from dataclasses import dataclass, field
from typing import Sequence

from .corpus import ISSUE_LABEL_RE, issue_id_for
from .index import Snapshot

_KINDS = (
    ("issue", re.compile(r"哪一期|哪期|第几期|出自|刊登|刊载|题目是什么|标题是什么|文章.*?(?:题目|标题)")),
    ("number", re.compile(r"多少|几[个家项名位次倍年月]|第几|比例|占比|百分之|增长了?多|涨了|金额|数量|排名|从多少")),
    ("how", re.compile(r"怎样|如何|怎么|通过什么|什么方式|什么载体|按什么|哪些措施|什么措施|举措")),
    ("entity", re.compile(r"哪些|哪个|哪家|哪所|什么|名称|叫什么|是谁|谁")),
)
_PLACE_SUFFIX_RE = re.compile(r"(?:省|市|区|县|州|盟|旗|自治区)$")
_FOLLOW_UP_RE = re.compile(r"^(?:那么?|还有|再问一下)?\s*(.{1,12}?)\s*(?:呢|怎么样|如何|的情况)?[？?。!！]*$")


@dataclass(frozen=True)
class Question:
    text: str  # as asked (or as resolved from a follow-up)
    kind: str  # number | entity | how | issue | other
    weights: dict[str, float]  # key term → idf weight
    anchors: frozenset[str] = field(default_factory=frozenset)  # terms that may sit in the title
    issue_id: str | None = None  # "2023年第6期里…" restricts the search
    wants_title: bool = False


def analyse(snapshot: Snapshot, text: str) -> Question:
    kind = next((name for name, cue in _KINDS if cue.search(text)), "other")
    words = snapshot.tokenizer.words(text)
    weights: dict[str, float] = {}
    anchors: set[str] = set()
    n = max(len(snapshot.chunks), 1)
    for word in words:
        if ISSUE_LABEL_RE.fullmatch(word) or len(word) < 2 and not word.isdigit():
            continue
        term = _PLACE_SUFFIX_RE.sub("", word) if len(word) > 2 else word
        df = _document_frequency(snapshot, term)
        if df == 0 and term != word:
            term, df = word, _document_frequency(snapshot, word)
        weights[term] = math.log((n + 1) / (df + 0.5))
        if df and any(term in article.title for article in snapshot.articles.values()):
            anchors.add(term)
    label = ISSUE_LABEL_RE.search(text)
    issue_id = issue_id_for(label.group(0), "") if label else None
    if issue_id is not None and snapshot.issue(issue_id) is None:
        issue_id = None
    return Question(
        text=text,
        kind=kind,
        weights=weights,
        anchors=frozenset(anchors),
        issue_id=issue_id,
        wants_title=bool(re.search("题目|标题", text)),
    )


def _document_frequency(snapshot: Snapshot, term: str) -> int:
    return sum(1 for chunk in snapshot.chunks if term in chunk.text)


def resolve_follow_up(question: str, history: Sequence[str], snapshot: Snapshot) -> str:
    """'那南京呢？' after '宁夏有多少家孵化器？' → '南京有多少家孵化器？'."""
    if not history:
        return question
    match = _FOLLOW_UP_RE.match(question.strip())
    if not match or len(question.strip()) > 14:
        return question
    subject = match.group(1).strip()
    previous = history[-1]
    for word in snapshot.tokenizer.words(previous):
        place = _PLACE_SUFFIX_RE.sub("", word) if len(word) > 2 else word
        if place and _is_place(snapshot, place) and place not in subject:
            return previous.replace(word, subject, 1)
    return f"{subject}{previous}"


def _is_place(snapshot: Snapshot, term: str) -> bool:
    """A place is a term that names articles: it appears in some article title."""
    return len(term) >= 2 and any(term in article.title for article in snapshot.articles.values())
