"""Understand a question: its kind (number, entity, how, issue), its key terms with weights, the
places it is anchored to, an issue it names, and how an elliptical follow-up reads in full."""

from __future__ import annotations

import math
import re
from dataclasses import dataclass, field
from typing import Sequence

from .corpus import ISSUE_LABEL_RE, issue_id_for
from .index import Snapshot
from .keywords import place_stem

_KINDS = (
    ("issue", re.compile(r"哪一期|哪期|第几期|出自|刊登|刊载|题目是什么|标题是什么|文章.*?(?:题目|标题)")),
    ("number", re.compile(r"多少|几[个家项名位次倍年月]|第几|比例|占比|百分之|增长了?多|涨了|金额|数量|排名|从多少")),
    ("how", re.compile(r"怎样|如何|怎么|通过什么|什么方式|什么载体|按什么|哪些措施|什么措施|举措")),
    ("entity", re.compile(r"哪些|哪个|哪家|哪所|什么|名称|叫什么|是谁|谁")),
)
_FOLLOW_UP_RE = re.compile(r"^(?:那么?|还有|再问一下)?\s*(.{1,12}?)\s*(?:呢|怎么样|如何|的情况)?[？?。!！]*$")


@dataclass(frozen=True)
class Question:
    text: str  # as asked (or as resolved from a follow-up)
    kind: str  # number | entity | how | issue | other
    weights: dict[str, float]  # key term → idf weight (places and years included)
    places: frozenset[str] = field(default_factory=frozenset)  # the answer's article must name one
    years: frozenset[str] = field(default_factory=frozenset)  # may be stated earlier in the article
    unit: str | None = None  # '多少家' → '家': the number wanted is counted in this unit
    focus: str | None = None  # '什么计划' → '计划': the kind of thing an entity question wants
    issue_id: str | None = None  # "2023年第6期里…" restricts the search
    wants_title: bool = False


_UNIT_RE = re.compile(r"(?:多少|几)([家个项名人位次倍元亿万台套件篇所批场条亩吨道款户座辆座支只间])")
_RANK_RE = re.compile(r"第几|排名|排第|位列|位居")
_SHARE_RE = re.compile(r"比例|占比|百分之|百分比|比重|增长了?多少|涨了?多少|增幅|率")


def analyse(snapshot: Snapshot, text: str) -> Question:
    kind = next((name for name, cue in _KINDS if cue.search(text)), "other")
    weights: dict[str, float] = {}
    places: set[str] = set()
    years: set[str] = set()
    n = max(len(snapshot.chunks), 1)
    for word, tag in snapshot.tokenizer.tagged(text):
        if len(word) < 2 and not word.isdigit():
            continue
        term = place_stem(word) if tag == "ns" else word
        df = _document_frequency(snapshot, term)
        weight = math.log((n + 1) / (df + 0.5))
        if tag == "ns":
            places.add(term)
        elif re.fullmatch(r"(?:19|20)\d\d", term):
            years.add(term)
        elif df == 0:
            weight *= 0.3  # a paraphrase's own wording: absent everywhere, so weak evidence either way
        weights[term] = weight
    label = ISSUE_LABEL_RE.search(text)
    issue_id = issue_id_for(label.group(0), "") if label else None
    if issue_id is not None and snapshot.issue(issue_id) is None:
        issue_id = None
    return Question(
        text=text,
        kind=kind,
        weights=weights,
        places=frozenset(places),
        years=frozenset(years),
        unit=_unit(text),
        focus=_focus(text),
        issue_id=issue_id,
        wants_title=bool(re.search("题目|标题", text)),
    )


_FOCUS_RE = re.compile(r"(?:什么|哪个|哪些|哪家|哪一个|哪项)([\u4e00-\u9fff]{1,6}?)(?:[？?，,。]|$|落户|叫|是)")


def _focus(text: str) -> str | None:
    match = _FOCUS_RE.search(text)
    return match.group(1)[-2:] if match and len(match.group(1)) >= 2 else None


def _unit(text: str) -> str | None:
    if _RANK_RE.search(text):
        return "rank"
    if _SHARE_RE.search(text):
        return "%"
    match = _UNIT_RE.search(text)
    return match.group(1) if match else None


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
    for word, tag in snapshot.tokenizer.tagged(previous):
        if tag == "ns" and place_stem(word) not in subject:
            return previous.replace(word, subject, 1)
    return f"{subject}{previous}"
