"""Hits → an extractive Answer: the smallest verbatim clause of a bulletin that holds the fact,
with its offsets, a highlight, a confidence, citations — or an honest "not found"."""

from __future__ import annotations

import math
import re
from dataclasses import dataclass

from .chunking import sentence_spans
from .corpus import ENUMERATION_RE
from .index import Snapshot
from .questions import Question
from .schema import Answer, Article, Citation, Hit

NOT_FOUND = "简报中没有找到能回答这个问题的内容。下面是最接近的段落，供您参考。"
FOUND = "答案摘自简报原文。"
MAX_ANSWER_CHARS = 200
# Calibrated on the dev set: unanswerable questions topped out at 0.37, answerable paraphrases
# started at 0.58 (`qa eval` prints both rates).
MIN_SUPPORT = 0.5
MIN_COVERAGE = 0.3  # and the passage must state a fair share of the question itself,
MIN_TOPIC = 0.3  # not only its place and year

_OPENERS, _CLOSERS = "“《（(「『", "”》）)」』"
_UNITS = "元|美元|家|个|项|人次|人|名|台|套|件|篇|所|倍|位|期|批|场|次|条|亩|吨|道|款|股|户|座|辆|平方米|公顷|千米|公里"
_NUMBER_RE = re.compile(
    r"(?:约|近|超|逾)?\d[\d,.]*(?:\s*[—~～-]\s*\d[\d,.]*)?\s*"
    rf"(?:%|‰|万亿|亿|万|千|百)?(?:{_UNITS})?"
    # written-out counts: '十大国家级平台', '三个机制' (not '一是', '一批' or '一体化')
    rf"|(?<!第)[两二三四五六七八九十百千]+(?:{_UNITS}|大)"
)
_HOW_VERBS = re.compile(
    "通过|依托|实施|建立|推行|推广|开展|选派|设立|按照|采取|搭建|围绕|举办|出台|制定|组织|引进|落实|健全|完善|强化|加大|探索"
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
    coverage: float  # share of the question's terms stated (see _coverage)
    topic: float  # the same, counting only terms that are neither places nor years
    support: float  # coverage plus the cue of the kind of fact asked for: decides found / not found
    score: float  # support plus retrieval evidence: ranks candidates


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
    if best.support < MIN_SUPPORT or best.coverage < MIN_COVERAGE or best.topic < MIN_TOPIC or (question.kind == "number" and not _NUMBER_RE.search(best.article.text[best.start:best.end])):
        return Answer(question=question.text, found=False, message=NOT_FOUND, citations=citations,
                      confidence=round(min(best.support, MIN_SUPPORT) * 0.5, 3))
    citation = _citation_of(citations, best)
    confidence = min(1.0, 0.3 + 0.5 * min(best.support, 1.0) + 0.2 * _sigmoid(best.hit.dense_score * 10 - 8))
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
    strong = {c.article.id for c in candidates if c.article.id != best.article.id and c.support >= MIN_SUPPORT
              and c.score >= 0.85 * best.score}
    ordered = [citation]
    ordered += [c for c in citations if c is not citation and c.article_id in strong]
    ordered += [c for c in citations if c is not citation and c.article_id not in strong]
    return tuple(ordered)


def _issue_answer(snapshot: Snapshot, question: Question, hits: list[Hit], citations) -> Answer:
    """'…是哪一期刊登的？' / '题目是什么？': the answer is the issue label or the article title."""
    top = citations[0]
    article = snapshot.articles[top.article_id]
    first = next(sentence_spans(article.text), (0, 0))
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


def _coverage(question: Question, text: str, article: Article, lead: str = "", prefix: str = "") -> float:
    """Weighted share of the question's key terms the text states.

    A place may be named in the title or anywhere in the article, a year earlier in the article
    (`prefix`); of several places ('黄山和淮南…') one suffices. Other terms found only in the
    heading-like `lead` sentence before count a little less."""
    place_weight = max((question.weights[p] for p in question.places), default=0.0)
    total = place_weight + sum(w for t, w in question.weights.items() if t not in question.places) or 1.0
    named = any(p in text or p in article.title or p in article.text for p in question.places)
    found = place_weight if named else 0.0
    for term, weight in question.weights.items():
        if term in question.places:
            continue
        if term in text:
            found += weight
        elif term in lead:
            found += 0.8 * weight
        elif term in question.years and term in prefix:
            found += weight
    return found / total


def _topic_coverage(question: Question, sentence: str, lead: str) -> float:
    """Share of what the question asks about (not where or when) that the sentence states."""
    topic = {t: w for t, w in question.weights.items() if t not in question.places and t not in question.years}
    if not topic:
        return 1.0
    found = sum(w for t, w in topic.items() if t in sentence or t in lead)
    return found / sum(topic.values())


def _names_a_place(question: Question, article: Article) -> bool:
    return not question.places or any(p in article.title or p in article.text for p in question.places)


def _candidates(snapshot: Snapshot, question: Question, hit: Hit) -> list[_Candidate]:
    article = snapshot.articles[hit.chunk.article_id]
    if not _names_a_place(question, article):
        return []
    text = article.text
    sentences = list(sentence_spans(text, hit.chunk.start, hit.chunk.end))
    candidates = []
    for n, (s_start, s_end) in enumerate(sentences):
        lead = _lead(text, sentences, n)
        prefix = text[: s_start]
        clauses = _clauses(text, s_start, s_end)
        if not clauses:
            continue
        start, end, fact = _best_window(text, clauses, question, article, lead)
        window = text[start:end]
        coverage = max(
            _coverage(question, window, article, lead, prefix),
            0.9 * _coverage(question, text[s_start:s_end], article, lead, prefix),
        )
        if _novel_chars(question, window) < 3:
            coverage *= 0.6  # it only repeats the question (a sub-heading like '健全科技成果捕捉机制。')
        if question.kind == "number" and not _NUMBER_RE.search(window):
            coverage *= 0.5
        topic = _topic_coverage(question, text[s_start:s_end], lead)
        support = coverage + _cue_bonus(question, window) + _lead_bonus(question, lead, article)
        score = support + 0.15 * hit.dense_score + 0.05 * min(hit.keyword_score, 10) / 10
        candidates.append(_Candidate(hit, article, start, end, fact[0], fact[1], coverage, topic, support, score))
    return candidates


def _clauses(text: str, start: int, end: int) -> list[tuple[int, int]]:
    """Split a sentence at ，,：: — but never inside quotes, book titles or brackets."""
    spans, depth, begin = [], 0, start
    for i in range(start, end):
        char = text[i]
        if char in _OPENERS:
            depth += 1
        elif char in _CLOSERS:
            depth = max(0, depth - 1)
        elif char in "，,：:" and depth == 0:
            spans.append((begin, i))
            begin = i + 1
    spans.append((begin, end))
    return [(a, b) for a, b in ((_strip(text, a, b)) for a, b in spans) if b > a]


def _strip(text: str, a: int, b: int) -> tuple[int, int]:
    while a < b and text[a].isspace():
        a += 1
    while b > a and text[b - 1] in " \n；;。":
        b -= 1
    return a, b


def _lead(text: str, sentences, n: int) -> str:
    """The sentence before, when it is a short heading-like lead ('三要优化…机制。') of this one."""
    if n == 0 or "\n" in text[sentences[n - 1][1] : sentences[n][0]]:
        return ""
    lead = text[sentences[n - 1][0] : sentences[n - 1][1]]
    return lead if len(lead) <= 30 and not re.search(r"\d", lead) else ""


def _novel_chars(question: Question, window: str) -> int:
    rest = ENUMERATION_RE.sub("", window)
    for term in question.weights:
        rest = rest.replace(term, "")
    return len(re.findall(r"[\u4e00-\u9fff0-9A-Za-z]", rest))


def _best_window(text: str, clauses, question: Question, article: Article, previous: str):
    """Smallest run of clauses that covers the question best; for numbers, widened back to the
    time phrase of the sentence. Returns (start, end, (fact_start, fact_end))."""
    best = None
    for i in range(len(clauses)):
        for j in range(i, min(i + 4, len(clauses))):
            start, end = clauses[i][0], clauses[j][1]
            if end - start > MAX_ANSWER_CHARS:
                break
            window = text[start:end]
            value = _coverage(question, window, article, previous) + _cue_bonus(question, window) - 0.03 * (j - i)
            if best is None or value > best[0] + 1e-9:
                best = (value, start, end)
    if best is None:
        start, end = clauses[0][0], min(clauses[0][1], clauses[0][0] + MAX_ANSWER_CHARS)
        return start, end, (start, end)
    _, start, end = best
    fact = _fact_span(text, start, end, question)
    if question.kind == "number" and not _TIME_RE.search(text[start:end]):
        for c_start, c_end in clauses:
            if c_end <= start and _TIME_RE.search(text[c_start:c_end]) and end - c_start <= 120:
                start = c_start
                break
    return start, end, fact


def _fact_span(text: str, start: int, end: int, question: Question) -> tuple[int, int]:
    """The number (with its unit) that answers a number question, else the whole window.

    Dates are not answers; a number in the wanted unit, with a unit at all, and right after a
    term of the question ('成交额428.73亿元') is preferred."""
    if question.kind != "number":
        return start, end
    best, best_value = (start, end), -1.0
    for match in _NUMBER_RE.finditer(text, start, end):
        number = match.group(0).strip()
        after = text[match.end() : match.end() + 1]
        if not re.search(r"\d", number) or (after in "年月日" and after) or re.fullmatch(r"(?:19|20)\d\d", number):
            continue
        around = text[max(start, match.start() - 2) : match.end() + 1]
        lead_in = text[max(start, match.start() - 8) : match.start()]
        value = (2.0 if question.unit and _wanted_number(question, number, around) else 0.0)
        value += 1.0 if re.search(r"\D$", number) else 0.0
        value += 1.0 if any(term in lead_in for term in question.weights) else 0.0
        if value > best_value:
            best, best_value = (match.start(), match.start() + len(number)), value
    return best


def _wanted_number(question: Question, number: str, around: str) -> bool:
    if question.unit == "%":
        return "%" in number
    if question.unit == "rank":
        return "第" in around and ("位" in around or "名" in around)
    if question.unit:
        return number.endswith(question.unit) or question.unit in around
    return bool(re.search(r"\d", number))


def _lead_bonus(question: Question, lead: str, article: Article) -> float:
    """'三要优化…机制。推广“企业出题,高校攻关”模式…': when the lead restates a how-question,
    the sentence after it is the measure the bulletin describes."""
    if question.kind != "how" or not lead:
        return 0.0
    return 0.2 if _topic_coverage(question, lead, "") >= 0.5 else 0.0


def _cue_bonus(question: Question, window: str) -> float:
    if question.kind == "number":
        numbers = [m for m in _NUMBER_RE.finditer(window) if re.search(r"\d", m.group(0))]
        if not numbers:
            return 0.0
        wanted = any(_wanted_number(question, m.group(0), window[max(0, m.start() - 2) : m.end() + 1]) for m in numbers)
        return 0.35 if wanted else 0.1
    if question.kind == "entity":
        bonus = 0.2 if question.focus and question.focus in window else 0.0
        return bonus + (0.1 if "、" in window or "“" in window or "《" in window else 0.0)
    if question.kind == "how":
        verbs = _HOW_VERBS.findall(question.text)
        if verbs and any(v in window for v in verbs):
            return 0.25  # '通过什么载体' is answered where the bulletin says 通过…
        return 0.1 if _HOW_VERBS.search(window) else 0.0
    return 0.0
