"""Features of a (question, candidate sentence) pair: a named list, one small function each, so a
feature can be added, ablated and printed by name. Every feature is generic — similarity, term
statistics, answer-type cues, place/period agreement, position — nothing about one bulletin."""

from __future__ import annotations

import math
import re
from dataclasses import dataclass
from functools import lru_cache
from typing import Callable

from ..corpus import ENUMERATION_RE
from ..periods import agrees, conflicts
from ..retrieve import Candidate
from ..sentences import TermStats
from .lexicon import lexicon
from .question import Question

BM25_K1, BM25_B = 1.2, 0.75  # the textbook constants
_CJK = re.compile(r"[\u4e00-\u9fff]")
_DATE_AFTER = re.compile(r"[年月日号]")


@dataclass(frozen=True, slots=True)
class Pair:
    """One candidate seen against the question, with the measures the features are made of."""

    question: Question
    candidate: Candidate
    coverage: float  # idf-weighted share of the question's terms the sentence states
    context_coverage: float  # the same, counting its heading, lead, previous sentence and title too
    bm25: float
    overlap: float  # share of the question's content characters the sentence contains
    novelty: float  # share of the sentence's characters that are not the question's
    numbers: tuple[str, ...]  # figures in the sentence (dates left out)
    dense_rank: int  # 1-based rank of its cosine among the candidates
    pool: "Pool"


@dataclass(frozen=True, slots=True)
class Pool:
    """Maxima over all candidates of one question, for relative features."""

    dense: float
    dense_level: float
    passage_dense: float
    topic_level: float
    context_dense: float
    context_topic: float
    bm25: float
    coverage: float


def pairs(question: Question, candidates: list[Candidate], stats: TermStats) -> list[Pair]:
    measures = [_measures(question, c, stats) for c in candidates]
    pool = Pool(
        dense=max((c.dense for c in candidates), default=0.0),
        dense_level=max((c.dense_level for c in candidates), default=0.0),
        passage_dense=max((c.hit.dense_score for c in candidates), default=0.0),
        topic_level=max((c.topic_level for c in candidates), default=0.0),
        context_dense=max((c.context_dense for c in candidates), default=0.0),
        context_topic=max((c.context_topic for c in candidates), default=0.0),
        bm25=max((m[2] for m in measures), default=0.0),
        coverage=max((m[0] for m in measures), default=0.0),
    )
    order = sorted(range(len(candidates)), key=lambda i: -candidates[i].dense)
    ranks = {i: rank for rank, i in enumerate(order, start=1)}
    return [Pair(question, c, *m, dense_rank=ranks[i], pool=pool) for i, (c, m) in enumerate(zip(candidates, measures))]


def _measures(question: Question, candidate: Candidate, stats: TermStats):
    sentence = candidate.sentence
    context = " ".join((sentence.heading, sentence.lead, candidate.previous, candidate.article.title))
    coverage = _coverage(question, sentence.text, sentence.tokens)
    context_coverage = _coverage(question, sentence.text + " " + context, sentence.tokens)
    chars = content_chars(sentence.text)
    overlap = len(question.chars & chars) / len(question.chars) if question.chars else 0.0
    novelty = len(chars - question.chars) / len(chars) if chars else 0.0
    numbers = _figures(sentence.text)
    return coverage, context_coverage, _bm25(question, sentence.tokens, stats), overlap, novelty, numbers


def _coverage(question: Question, text: str, tokens: tuple[str, ...]) -> float:
    known = question.known_terms
    total = sum(known.values())
    if not total:
        return 0.0
    return sum(w for t, w in known.items() if t in text or t in tokens) / total


# A sentence is a candidate of many questions: what depends on its text alone is worked out once per text.
TEXT_CACHE_SIZE = 1 << 14


@lru_cache(maxsize=TEXT_CACHE_SIZE)
def content_chars(text: str) -> frozenset[str]:
    """The Chinese characters of a text."""
    return frozenset(_CJK.findall(text))


def _bm25(question: Question, tokens: tuple[str, ...], stats: TermStats) -> float:
    if not tokens:
        return 0.0
    length_norm = BM25_K1 * (1 - BM25_B + BM25_B * len(tokens) / max(stats.average_length, 1.0))
    score = 0.0
    for term, idf in question.terms.items():
        tf = tokens.count(term)
        if tf:
            score += idf * tf * (BM25_K1 + 1) / (tf + length_norm)
    return score


@lru_cache(maxsize=TEXT_CACHE_SIZE)
def _figures(text: str) -> tuple[str, ...]:
    """Figures with their units; years and dates ('2023年', '3月') are not figures."""
    found = []
    for match in lexicon().number.finditer(text):
        figure = match.group(0).strip()
        after = text[match.end() : match.end() + 1]
        if not figure or (after and _DATE_AFTER.match(after) and re.search(r"\d$", figure)):
            continue
        if re.fullmatch(r"(?:19|20)\d\d", figure) and not re.match(r"[A-Za-z]", after):
            continue  # a bare year ('2023城市…'); '2000PFlops' is a figure with a unit we do not list
        found.append(figure)
    return tuple(found)


def unit_matches(question: Question, figure: str) -> bool:
    """Does a figure have the unit the question asks for ('多少家' ↔ '17家', '比例' ↔ '74.1%')?"""
    unit = question.unit
    if unit is None:
        return False
    if unit == "%":
        return "%" in figure or "‰" in figure or "倍" in figure
    if unit == "rank":
        return False  # ranks are '第3位': see _has_rank
    if unit == "money":
        return bool(lexicon().money.search(figure))
    return figure_unit(figure) in lexicon().unit_groups.get(unit, {unit})


_QUALIFIER_TAIL_RE = re.compile(r"\s*(?:以上|左右|余)$")


def figure_unit(figure: str) -> str | None:
    """The counting unit a figure is stated in: the longest one it ends with ('682人次' is in 人次, not 次)."""
    bare = _QUALIFIER_TAIL_RE.sub("", figure)
    return next((u for u in lexicon().counting_units if bare.endswith(u)), None)


def states_unit(question: Question, figures) -> bool:
    """Is one of `figures` in the unit the question asks for?"""
    return any(unit_matches(question, figure) for figure in figures)


_LABEL_START_RE = re.compile(r".*(?:[，,；;、：:。]|其中)")


def label_coverage(question: Question, text: str, figures: tuple[str, ...]) -> float:
    """How much of the question the words naming a figure state: the text from the last break (or '其中') before a
    figure in the asked unit ('全省有创新型县市50家，其中国家级7家、省级43家': '省级' names 43家)."""
    best = 0.0
    for match in lexicon().number.finditer(text):
        figure = match.group(0).strip()
        if figure not in figures or (question.unit not in (None, "rank") and not unit_matches(question, figure)):
            continue
        before = text[: match.start()]
        opening = _LABEL_START_RE.match(before)
        best = max(best, _coverage(question, before[opening.end():] if opening else before, ()))
    return best


def _has_rank(text: str) -> bool:
    return bool(re.search(r"第\s*[\d一二三四五六七八九十]+\s*(?:位|名)?", text)) and bool(re.search(r"[居列排位名]", text))


def _asks(kind: str) -> Callable[[Pair], float]:
    return lambda p: float(p.question.kind == kind)


def _place_in(text_of: Callable[[Pair], str]) -> Callable[[Pair], float]:
    return lambda p: float(any(place in text_of(p) for place in p.question.places))


def places_near(p: Pair) -> float:
    """Share of the places the answer must be about that the sentence, its heading, lead,
    previous sentence or title names (a district named only elsewhere in the article is not)."""
    places = p.question.required_places
    if not places:
        return 1.0
    near = near_text(p.candidate)
    return sum(place in near for place in places) / len(places)


def near_text(candidate: Candidate) -> str:
    """What a sentence is read with: itself, its heading, lead and previous sentence, and the article's title."""
    sentence = candidate.sentence
    return " ".join((sentence.text, sentence.heading, sentence.lead, candidate.previous, candidate.article.title))


def _unit_match(p: Pair) -> float:
    if p.question.kind != "number":
        return 0.0
    if p.question.unit == "rank":
        return float(_has_rank(p.candidate.sentence.text))
    return float(states_unit(p.question, p.numbers))


def _entity_cue(p: Pair) -> float:
    if p.question.kind not in ("entity", "other"):
        return 0.0
    text = p.candidate.sentence.text
    cues = ("、" in text) + ("“" in text or "《" in text) + bool(lexicon().organisation.search(text))
    return cues / 3


def _measure_cue(p: Pair) -> float:
    if p.question.kind != "how":
        return 0.0
    return min(len(lexicon().measure_verbs.findall(p.candidate.sentence.text)), 4) / 4


def _how_heading(p: Pair) -> float:
    """A how-question against an enumerated heading ('二是…。', '（1）…。'): a line that names a measure, not how."""
    text = p.candidate.sentence.text
    return float(p.question.kind == "how" and len(text) <= 32 and bool(ENUMERATION_RE.match(text)))


def _enumerated(p: Pair) -> float:
    sentence = p.candidate.sentence
    return float(bool(ENUMERATION_RE.match(sentence.text) or (sentence.lead and ENUMERATION_RE.match(sentence.lead))))


FEATURES: tuple[tuple[str, Callable[[Pair], float]], ...] = (
    # similarity and retrieval
    # (relative to the other candidates: raw cosines differ from one embedding model to another)
    ("dense_gap", lambda p: p.candidate.dense - p.pool.dense),
    ("dense_z", lambda p: p.candidate.dense_z / 4),
    ("dense_rank", lambda p: 1.0 / p.dense_rank),
    # the sentence read under its title and heading: a question worded like them comes close to it
    ("context_dense_gap", lambda p: p.candidate.context_dense - p.pool.context_dense),
    ("context_topic_gap", lambda p: p.candidate.context_topic - p.pool.context_topic),
    ("passage_dense_gap", lambda p: p.candidate.hit.dense_score - p.pool.passage_dense),
    ("passage_rank", lambda p: 1.0 / p.candidate.hit_rank),
    ("article_rank", lambda p: 1.0 / p.candidate.article_rank),
    ("neighbour", lambda p: float(p.candidate.neighbour)),
    # the question's words in the sentence
    ("bm25", lambda p: math.log1p(p.bm25)),
    ("bm25_share", lambda p: p.bm25 / p.pool.bm25 if p.pool.bm25 else 0.0),
    ("coverage", lambda p: p.coverage),
    ("coverage_gap", lambda p: p.coverage - p.pool.coverage),
    ("context_coverage", lambda p: p.context_coverage),
    # the sentence before it states the question (the topic sentence) and this one carries the detail
    ("previous_coverage", lambda p: _coverage(p.question, p.candidate.previous, ()) if p.candidate.previous else 0.0),
    ("overlap", lambda p: p.overlap),
    ("unknown_terms", lambda p: len(p.question.unknown_terms) / max(len(p.question.terms), 1)),
    # where and when
    ("question_place", lambda p: float(bool(p.question.places))),
    ("place_in_sentence", _place_in(lambda p: p.candidate.sentence.text)),
    ("place_in_title", _place_in(lambda p: p.candidate.article.title)),
    ("place_in_context", _place_in(lambda p: p.candidate.sentence.heading + p.candidate.sentence.lead + p.candidate.previous)),
    ("places_near", places_near),
    ("question_period", lambda p: float(bool(p.question.period))),
    ("period_stated", lambda p: float(agrees(p.question.period, p.candidate.sentence.stated))),
    ("period_in_force", lambda p: float(agrees(p.question.period, p.candidate.sentence.in_force))),
    ("period_unknown", lambda p: float(bool(p.question.period) and not p.candidate.sentence.in_force)),
    ("period_opening_conflict", lambda p: float(not p.candidate.sentence.in_force
                                                and conflicts(p.question.period, p.candidate.article_period))),
    # the kind of answer asked for
    ("asks_number", _asks("number")),
    ("asks_entity", _asks("entity")),
    ("asks_how", _asks("how")),
    ("number_present", lambda p: float(p.question.kind == "number" and bool(p.numbers))),
    ("unit_match", _unit_match),
    ("figures", lambda p: min(len(p.numbers), 5) / 5),
    ("entity_cue", _entity_cue),
    ("focus", lambda p: float(bool(p.question.focus) and p.question.focus in p.candidate.sentence.text)),
    ("measure_cue", _measure_cue),
    ("enumerated", _enumerated),
    # restating the question is not answering it
    ("restates", lambda p: p.coverage * (1.0 - p.novelty)),
    ("novel_chars", lambda p: math.log1p(p.novelty * len(content_chars(p.candidate.sentence.text))) / 4),
    ("context_gain", lambda p: max(0.0, p.context_coverage - p.coverage)),
    ("how_context_gain", lambda p: float(p.question.kind == "how") * max(0.0, p.context_coverage - p.coverage)),
    ("how_lead", lambda p: float(p.question.kind == "how" and len(p.candidate.sentence.text) <= 32)),
    # '二是建立“先使用后付费”许可机制。' restates a how-question; the measure is in the sentences under it
    ("how_heading", lambda p: _how_heading(p)),
    ("how_heading_coverage", lambda p: _how_heading(p) * p.coverage),
    ("number_coverage", lambda p: float(p.question.kind == "number") * p.coverage),
    # shape and position
    ("is_lead", lambda p: float(len(p.candidate.sentence.text) <= 32)),
    ("novelty", lambda p: p.novelty),
    ("length", lambda p: math.log(len(p.candidate.sentence.text) + 1) / 5),
    ("position", lambda p: p.candidate.sentence.ordinal / 40),
    ("opens_paragraph", lambda p: float(not p.candidate.previous)),
)
FEATURE_NAMES = tuple(name for name, _ in FEATURES)


def vector(pair: Pair) -> list[float]:
    return [feature(pair) for _, feature in FEATURES]
