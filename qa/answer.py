"""Hits → an extractive Answer: the smallest verbatim clause of a bulletin that holds the fact,
with its offsets, a highlight, a confidence, citations — or an honest "not found"."""

from __future__ import annotations

import math
import re
from dataclasses import dataclass

from .index import Snapshot
from .questions import Question
from .schema import Answer, Article, Citation, Hit

NOT_FOUND = "简报中没有找到能回答这个问题的内容。下面是最接近的段落，供您参考。"
FOUND = "答案摘自简报原文。"
MAX_ANSWER_CHARS = 200
MIN_COVERAGE = 0.7

_SENTENCE_RE = re.compile(r"[^。！？；!?;\n]+[。！？；!?;]?[”’」』）)]*")
_CLAUSE_RE = re.compile(r"[^，,：:]+[，,：:]?")
_NUMBER_RE = re.compile(
    r"(?:约|近|超|逾)?\d[\d,.]*(?:\s*[—~～-]\s*\d[\d,.]*)?\s*"
    r"(?:%|‰|万亿|亿|万|千|百)?(?:元|美元|家|个|项|人次|人|名|台|套|件|篇|所|倍|位|期|批|场|次|条|亩|吨|道|款|股|户|平方米|公顷|千米|公里)?"
)
_TIME_RE = re.compile(r"\d{4}\s*年|\d{1,2}\s*[—-]\s*\d{1,2}\s*月|\d{1,2}月|前三季度|上半年|季度|年底|年初|截至|截止")


@dataclass(frozen=True, slots=True)
class _Candidate:
    hit: Hit
    article: Article
    start: int  # span of the answer window in the article
    end: int
    fact_start: int  # the answering span inside it
    fact_end: int
    coverage: float
    score: float


def citation_for(snapshot: Snapshot, hit: Hit) -> Citation:
    article = snapshot.articles[hit.chunk.article_id]
    issue = snapshot.issue(article.issue_id)
    return Citation(
        issue_id=issue.id,
        issue_label=issue.label,
        issue_source=issue.source,
        article_id=article.id,
        article_title=article.title,
        passage=hit.chunk.text,
        start=hit.chunk.start,
        end=hit.chunk.end,
        score=round(hit.score, 4),
    )


def answer(snapshot: Snapshot, question: Question, hits: list[Hit]) -> Answer:
    citations = tuple(citation_for(snapshot, hit) for hit in hits)
    if not hits:
        return Answer(question=question.text, found=False, message=NOT_FOUND, citations=citations)
    if question.kind == "issue":
        return _issue_answer(snapshot, question, hits, citations)
    candidates = [c for hit in hits[:5] for c in _candidates(snapshot, question, hit)]
    if not candidates:
        return Answer(question=question.text, found=False, message=NOT_FOUND, citations=citations)
    best = max(candidates, key=lambda c: c.score)
    if best.coverage < MIN_COVERAGE or (question.kind == "number" and not _NUMBER_RE.search(best.article.text[best.start:best.end])):
        return Answer(question=question.text, found=False, message=NOT_FOUND, citations=citations,
                      confidence=round(best.coverage * 0.5, 3))
    citation = _citation_of(citations, best)
    confidence = min(1.0, 0.5 * best.coverage + 0.5 * _sigmoid(best.hit.dense_score * 10 - 8))
    return Answer(
        question=question.text,
        found=True,
        message=FOUND,
        text=best.article.text[best.start : best.end],
        start=best.start,
        end=best.end,
        highlight_start=best.fact_start,
        highlight_end=best.fact_end,
        confidence=round(confidence, 3),
        citation=citation,
        citations=_with_corroborating(citations, citation, candidates, best),
    )


def _sigmoid(x: float) -> float:
    return 1.0 / (1.0 + math.exp(-x))


def _citation_of(citations: tuple[Citation, ...], best: _Candidate) -> Citation:
    for citation in citations:
        if citation.article_id == best.article.id and citation.start == best.hit.chunk.start:
            return citation
    raise LookupError(best.article.id)


def _with_corroborating(citations, citation, candidates, best) -> tuple[Citation, ...]:
    """The answer's citation first, then other articles that say the same (e.g. two issues)."""
    strong = {c.article.id for c in candidates if c.article.id != best.article.id and c.coverage >= best.coverage - 0.05
              and c.score >= 0.8 * best.score}
    ordered = [citation]
    ordered += [c for c in citations if c is not citation and c.article_id in strong]
    ordered += [c for c in citations if c is not citation and c.article_id not in strong]
    return tuple(ordered)


def _issue_answer(snapshot: Snapshot, question: Question, hits: list[Hit], citations) -> Answer:
    """'…是哪一期刊登的？' / '题目是什么？': the answer is the issue label or the article title."""
    top = citations[0]
    article = snapshot.articles[top.article_id]
    first = next(iter(_spans(_SENTENCE_RE, article.text, 0, len(article.text))), (0, 0))
    text = top.article_title if question.wants_title else f"{top.issue_label} · {top.article_title}"
    return Answer(
        question=question.text,
        found=True,
        message=f"出自《科技情报参考》{top.issue_label}：{top.article_title}",
        text=text,
        start=first[0],
        end=first[1],
        highlight_start=first[0],
        highlight_end=first[1],
        confidence=round(min(1.0, 0.5 + 0.5 * _sigmoid(hits[0].dense_score * 10 - 8)), 3),
        citation=top,
        citations=citations,
    )


def _spans(pattern: re.Pattern, text: str, start: int, end: int):
    for match in pattern.finditer(text, start, end):
        a, b = match.span()
        while a < b and text[a].isspace():
            a += 1
        while b > a and text[b - 1] in " \n，,：:；;":
            b -= 1
        if b > a:
            yield a, b


def _coverage(question: Question, text: str, context: str) -> float:
    """Weighted share of the question's key terms found in the text (anchors may be in the context)."""
    total = sum(question.weights.values()) or 1.0
    found = 0.0
    for term, weight in question.weights.items():
        if term in text or (term in question.anchors and term in context):
            found += weight
    return found / total


def _candidates(snapshot: Snapshot, question: Question, hit: Hit) -> list[_Candidate]:
    article = snapshot.articles[hit.chunk.article_id]
    context = article.title + article.text[: hit.chunk.start]
    candidates = []
    for s_start, s_end in _spans(_SENTENCE_RE, article.text, hit.chunk.start, hit.chunk.end):
        sentence = article.text[s_start:s_end]
        sentence_coverage = _coverage(question, sentence, context)
        if sentence_coverage == 0:
            continue
        clauses = list(_spans(_CLAUSE_RE, article.text, s_start, s_end))
        start, end, fact = _best_window(article.text, clauses, question)
        coverage = max(_coverage(question, article.text[start:end], context), sentence_coverage * 0.9)
        if question.kind == "number" and not _NUMBER_RE.search(article.text[start:end]):
            coverage *= 0.5
        score = coverage + 0.15 * hit.dense_score + 0.05 * min(hit.keyword_score, 10) / 10
        candidates.append(_Candidate(hit, article, start, end, fact[0], fact[1], coverage, score))
    return candidates


def _best_window(text: str, clauses: list[tuple[int, int]], question: Question) -> tuple[int, int, tuple[int, int]]:
    """Smallest run of clauses that covers the question best; widened back to the time phrase."""
    best = None
    for i in range(len(clauses)):
        for j in range(i, min(i + 3, len(clauses))):
            start, end = clauses[i][0], clauses[j][1]
            if end - start > MAX_ANSWER_CHARS:
                break
            window = text[start:end]
            value = _coverage(question, window, "") + _cue_bonus(question, window) - 0.02 * (j - i)
            if best is None or value > best[0] + 1e-9:
                best = (value, start, end)
    if best is None:
        start, end = clauses[0][0], min(clauses[0][1], clauses[0][0] + MAX_ANSWER_CHARS)
        return start, end, (start, end)
    _, start, end = best
    fact = (start, end)
    if question.kind == "number" and not _TIME_RE.search(text[start:end]):
        for c_start, c_end in clauses:
            if c_end <= start and _TIME_RE.search(text[c_start:c_end]) and end - c_start <= 120:
                start = c_start
                break
    return start, end, fact


def _cue_bonus(question: Question, window: str) -> float:
    if question.kind == "number":
        return 0.3 if _NUMBER_RE.search(window) else 0.0
    if question.kind == "entity":
        return 0.1 if "、" in window or "“" in window else 0.0
    if question.kind == "how":
        return 0.1 if re.search("通过|依托|实施|建立|推行|开展|选派|设立|按照|以", window) else 0.0
    return 0.0
