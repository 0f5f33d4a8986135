"""Inside the chosen sentence: the smallest run of clauses that holds the answer (scored by the
span model), and the answer slot inside it to highlight — the asked figure, or the names."""

from __future__ import annotations

import math
import re
from dataclasses import dataclass
from typing import Callable

from ..retrieve import Candidate
from .features import _coverage, _figures, unit_matches
from .lexicon import lexicon
from .question import Question

MAX_SPAN_CHARS = 160
MAX_CLAUSES = 4
_OPENERS, _CLOSERS = "“《（(「『【", "”》）)」』】"
_CLAUSE_BREAKS = "，,：:"
_CJK = re.compile(r"[\u4e00-\u9fff]")


@dataclass(frozen=True, slots=True)
class Window:
    """A run of whole clauses of a sentence: offsets into the article text."""

    start: int
    end: int
    text: str
    clauses: int
    first: bool  # begins where the sentence begins
    last: bool  # ends where the sentence ends


def clauses(text: str, start: int, end: int) -> list[tuple[int, int]]:
    """Split text[start:end] at ，,：: — never inside quotes, book titles or brackets."""
    spans, depth, begin = [], 0, start
    for i in range(start, end):
        char = text[i]
        if char in _OPENERS:
            depth += 1
        elif char in _CLOSERS:
            depth = max(0, depth - 1)
        elif char in _CLAUSE_BREAKS and depth == 0:
            spans.append((begin, i))
            begin = i + 1
    spans.append((begin, end))
    return [span for span in (_trim(text, a, b) for a, b in spans) if span[1] > span[0]]


def _trim(text: str, a: int, b: int) -> tuple[int, int]:
    while a < b and text[a].isspace():
        a += 1
    while b > a and text[b - 1] in " \n；;。！？!?":
        b -= 1
    return a, b


def windows(candidate: Candidate) -> list[Window]:
    text, sentence = candidate.article.text, candidate.sentence
    parts = clauses(text, sentence.start, sentence.end) or [(sentence.start, sentence.end)]
    found = []
    for i in range(len(parts)):
        for j in range(i, min(i + MAX_CLAUSES, len(parts))):
            start, end = parts[i][0], parts[j][1]
            if end - start > MAX_SPAN_CHARS and j > i:
                break
            found.append(Window(start, end, text[start:end], j - i + 1, i == 0, j == len(parts) - 1))
    return found


@dataclass(frozen=True, slots=True)
class SpanPair:
    question: Question
    window: Window
    sentence_coverage: float
    coverage: float
    figures: tuple[str, ...]


def span_pairs(question: Question, candidate: Candidate) -> list[SpanPair]:
    tokens = candidate.sentence.tokens
    sentence_coverage = _coverage(question, candidate.sentence.text, tokens)
    return [
        SpanPair(question, w, sentence_coverage, _coverage(question, w.text, ()), tuple(_figures(w.text)))
        for w in windows(candidate)
    ]


def _novelty(p: SpanPair) -> float:
    chars = set(_CJK.findall(p.window.text))
    return len(chars - p.question.chars) / len(chars) if chars else 0.0


def _kind_cue(kind: str, cue: Callable[[SpanPair], float]) -> Callable[[SpanPair], float]:
    return lambda p: cue(p) if p.question.kind == kind else 0.0


SPAN_FEATURES: tuple[tuple[str, Callable[[SpanPair], float]], ...] = (
    ("coverage", lambda p: p.coverage),
    ("coverage_share", lambda p: p.coverage / p.sentence_coverage if p.sentence_coverage else 0.0),
    ("overlap", lambda p: len(p.question.chars & set(p.window.text)) / max(len(p.question.chars), 1)),
    ("novelty", _novelty),
    ("clauses", lambda p: p.window.clauses / MAX_CLAUSES),
    ("length", lambda p: math.log(len(p.window.text) + 1) / 5),
    ("first", lambda p: float(p.window.first)),
    ("last", lambda p: float(p.window.last)),
    ("whole", lambda p: float(p.window.first and p.window.last)),
    ("number", _kind_cue("number", lambda p: float(bool(p.figures)))),
    ("unit_match", _kind_cue("number", lambda p: float(any(unit_matches(p.question, f) for f in p.figures)))),
    ("rank", _kind_cue("number", lambda p: float(p.question.unit == "rank" and bool(re.search(r"第\s*[\d一二三四五六七八九十]+", p.window.text))))),
    ("list", lambda p: min(p.window.text.count("、"), 4) / 4),
    ("quoted", lambda p: float("“" in p.window.text or "《" in p.window.text)),
    ("organisation", lambda p: float(bool(lexicon().organisation.search(p.window.text)))),
    ("measure", _kind_cue("how", lambda p: min(len(lexicon().measure_verbs.findall(p.window.text)), 3) / 3)),
    ("asks_number", lambda p: float(p.question.kind == "number")),
    ("asks_how", lambda p: float(p.question.kind == "how")),
    ("period", lambda p: float(bool(p.question.period) and any(str(y) in p.window.text for y in p.question.period.years))),
    ("place", lambda p: float(any(place in p.window.text for place in p.question.places))),
)
SPAN_FEATURE_NAMES = tuple(name for name, _ in SPAN_FEATURES)


def span_vector(pair: SpanPair) -> list[float]:
    return [feature(pair) for _, feature in SPAN_FEATURES]


def highlight(question: Question, window: Window) -> tuple[int, int]:
    """The answer slot inside the window: for a figure asked for, the figure (in the asked unit,
    nearest the question's own words); otherwise the whole window."""
    if question.kind != "number":
        return window.start, window.end
    best, best_value = (window.start, window.end), -1.0
    for match in lexicon().number.finditer(window.text):
        figure = match.group(0).strip()
        if figure not in _figures(window.text) or not re.search(r"\d|[两二三四五六七八九十百千]", figure):
            continue
        before = window.text[max(0, match.start() - 10) : match.start()]
        value = 2.0 * unit_matches(question, figure) + float(bool(re.search(r"\D$", figure)))
        value += float(any(term in before for term in question.terms))
        if value > best_value:
            offset = window.start + match.start()
            best, best_value = (offset, offset + len(figure)), value
    return best
