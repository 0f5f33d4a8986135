"""Candidates → Answer. The place and period a question names are hard constraints; the sentence
model picks the sentence, the span model the clauses, the answer model says how likely the
answer shown is right (the confidence) and the answerable model how likely the bulletins answer
the question at all; below its threshold the answer is "not found", with the same metric for
another period cited beside it when the bulletins have one."""

from __future__ import annotations

import math
import re

from dataclasses import dataclass, replace

import numpy as np

from ..periods import conflicts, find_period, period_label
from ..retrieve import Candidate
from ..schema import Answer, AnswerItem, Citation, Hit, Period, PeriodNote
from ..sentences import TermStats
from .confidence import Reading, answer_vector
from .features import Pair, _figures, near_text, pairs, states_unit, vector
from .items import enumerated_items
from .model import Weights
from .question import Question
from .respectively import respective_answer
from .spans import MAX_SPAN_CHARS, Window, body_under, highlight, span_pairs, span_vector, trim

NOT_FOUND = "简报中没有找到能回答这个问题的内容。"
FOUND = "答案摘自简报原文。"
SUPPORT_FROM = 0.5  # another article's sentence this likely to hold the same figure supports it
# The other-period note must be about the metric asked: at least half of the question's idf-weighted terms in the
# sentence (a sentence of the same place and another year about something else is no "figure for another year").
OTHER_PERIOD_MIN_COVERAGE = 0.5
# A sentence this short is quoted whole: cutting it gains little brevity and risks losing the
# answer (measured by cross-validation: +5 points holding the answer, tightness unchanged) — unless the clauses
# chosen hold a figure in the unit asked (given the right sentence: number questions tight 83.2 → 88.6 %,
# holding the answer 95.7 → 94.1 %).
WHOLE_SENTENCE_CHARS = 50
# When the span model is unsure between its two best windows (the best one has less than this probability),
# the answer quotes both, with what lies between them, if that stays this short. Chosen by cross-validation on
# the training questions, given the right sentence: the window holds the answer 85.9 → 89.9 %, tight 75.4 → 76.3 %.
UNSURE_SPAN = 0.4
MAX_JOINED_CHARS = 80
# A measure ('how') runs over more clauses: how-questions 78.1 → 82.1 % holding it, tight 68.3 → 67.9 %.
UNSURE_SPAN_HOW = 0.6
MAX_JOINED_CHARS_HOW = 120


@dataclass(frozen=True, slots=True)
class Choice:
    """What the reader chose for a question, before the found / not-found decision."""

    reading: Reading
    window: Window
    slot: tuple[int, int]
    confidence: float  # that the answer shown is right
    answerable: float  # that the bulletins answer the question at all: "not found" below the threshold
    scored: list[tuple[float, Pair]]  # every allowed candidate with its sentence score
    items: tuple[AnswerItem, ...] = ()  # the article's enumerated measures, shown instead of the window

    @property
    def shown(self) -> str:
        """The text the answer quotes: the list when there is one, else the window."""
        return "；".join(item.text for item in self.items) if self.items else self.window.text


def allowed(question: Question, candidate: Candidate) -> bool:
    """The hard constraints: the article names the question's place(s); the sentence is not
    about another period than the one asked; a figure asked for in a unit ('多少家', '比例') is in a
    sentence that states a figure (of the training questions that ask so, 336 of 337 have one in
    their answer's sentence; a rank may be written '第十', which is no figure)."""
    places = question.required_places
    if places:
        named = [_names(candidate.article, p) for p in places]
        if not (any(named) if question.places_any else all(named)):
            return False
    counties = question.required_counties
    if counties and not all(p in near_text(candidate) for p in counties):  # not only elsewhere in the article
        return False
    if question.asks_figure_in_unit and not _figures(candidate.sentence.text):
        return False
    return not conflicts(question.period, candidate.sentence.in_force)


def _names(article, place: str) -> bool:
    return place in article.title or place in article.text


def choose(question: Question, candidates: list[Candidate], stats: TermStats, weights: Weights) -> Choice | None:
    paired = pairs(question, candidates, stats)
    kept = [p for p in paired if allowed(question, p.candidate)]  # the pool's maxima still count them all
    if not kept:
        return None
    scores = weights.sentence.scores(np.array([vector(p) for p in kept]))
    scored = [(float(s), p) for s, p in zip(scores, kept)]
    scored.sort(key=lambda item: -item[0])
    best_score, best = scored[0]
    sentence = best.candidate.sentence
    runner_up = next((s for s, p in scored[1:] if (p.candidate.article.id, p.candidate.sentence.paragraph)
                      != (best.candidate.article.id, sentence.paragraph)), best_score - 5.0)
    spans = span_pairs(question, best.candidate)
    span_scores = weights.span.scores(np.array([span_vector(s) for s in spans]))
    span_probabilities = np.exp(span_scores - span_scores.max())
    span_probabilities /= span_probabilities.sum()  # the windows of one sentence compete
    window, span_probability = _window(best.candidate, [s.window for s in spans], span_probabilities, question.kind)
    window = _past_colon(best.candidate, window)
    if len(sentence.text) <= WHOLE_SENTENCE_CHARS and not _holds_asked_figure(question, window.text):
        window = Window(sentence.start, sentence.end, sentence.text, window.clauses, True, True)
    if question.kind == "how":  # a heading answers 'how' with the measure carried out under it
        window = body_under(best.candidate) or window
    # '…安琪集团…分别达6.6亿元，5亿元、4.5亿元、5.8亿元' asked about 安琪集团: from the list to 5.8亿元, marked
    window, slot = respective_answer(question, best.candidate, window) or (window, highlight(question, window))
    items = enumerated_items(question, best, [p for _, p in scored])
    reading = Reading(best, best_score, runner_up, span_probability, float(span_scores.max()), len(paired),
                      len(scored), question.kind, window.text)
    row = np.array([answer_vector(reading)])
    confidence = float(weights.answer.probabilities(row)[0])
    answerable = float(weights.answerable.probabilities(row)[0])
    return Choice(reading, window, slot, confidence, answerable, scored, items)


def _past_colon(candidate: Candidate, window: Window) -> Window:
    """The window, run on to the end of its sentence when it stops at a colon: what it announces follows
    ('开展“三问”论证：问技术是否真“卡脖子”、…'; cross-validated, how-questions 78.7 → 79.1 %)."""
    text, sentence = candidate.article.text, candidate.sentence
    if window.last:
        return window
    start, end = trim(text, window.start, sentence.end)
    if not (text[window.end : sentence.end].lstrip()[:1] in ("：", ":") and end - start <= MAX_SPAN_CHARS):
        return window
    return Window(start, end, text[start:end], window.clauses, window.first, True, window.span)


def _holds_asked_figure(question: Question, text: str) -> bool:
    return question.kind == "number" and states_unit(question, _figures(text))


def _window(candidate: Candidate, windows: list[Window], probabilities: np.ndarray, kind: str) -> tuple[Window, float]:
    """The span model's window and how likely it holds the answer; when it is unsure between its best two, both
    (and what lies between them). `kind`: the question's."""
    first, second = (int(i) for i in np.argsort(-probabilities, kind="stable")[:2]) if len(windows) > 1 else (0, 0)
    window, probability = windows[first], float(probabilities[first])
    unsure, longest = (UNSURE_SPAN_HOW, MAX_JOINED_CHARS_HOW) if kind == "how" else (UNSURE_SPAN, MAX_JOINED_CHARS)
    if first == second or probability >= unsure:
        return window, probability
    other = windows[second]
    start, end = min(window.start, other.start), max(window.end, other.end)
    if end - start > longest:
        return window, probability
    span = (min(window.span[0], other.span[0]), max(window.span[1], other.span[1]))
    joined = Window(start, end, candidate.article.text[start:end], span[1] - span[0] + 1, window.first or other.first,
                    window.last or other.last, span)
    return joined, probability + float(probabilities[second])


def read(question: Question, candidates: list[Candidate], stats: TermStats, hits: list[Hit], weights: Weights) -> Answer:
    return answer_for(choose(question, candidates, stats, weights), question, candidates, stats, hits, weights)


def answer_for(choice: Choice | None, question: Question, candidates: list[Candidate], stats: TermStats,
               hits: list[Hit], weights: Weights) -> Answer:
    """The reply for the reader's choice (None: no candidate was allowed)."""
    if choice is None or choice.answerable < weights.not_found_below:
        return _not_found(question, candidates, stats, hits, weights, choice)
    best = choice.reading.pair.candidate
    # its own passage: a sentence beside the retrieved one, or elsewhere in the best article, is cited with the
    # passage that holds it (the retrieved one's score), so that the passage shown holds the answer
    own = replace(best.hit, chunk=best.passage) if best.passage is not None else best.hit
    citation = citation_of(own, best)
    supporting = _supporting(choice)
    items = choice.items
    text, start, end = choice.shown, choice.window.start, choice.window.end
    if items:
        start, end = items[0].start, items[-1].end
    if question.kind == "issue":
        text = best.article.title if question.wants_title else f"{best.issue_label} · {best.article.title}"
    confidence = shown_confidence(choice.confidence)
    return Answer(
        question=question.text,
        found=True,
        message=FOUND,
        text=text,
        start=start,
        end=end,
        highlight_start=items[0].start if items else choice.slot[0],
        highlight_end=items[0].end if items else choice.slot[1],
        confidence=confidence,
        confidence_words=weights.words_for(confidence),
        citation=citation,
        items=items,
        supporting=supporting,
        related=_related(hits, candidates, {citation.article_id} | {c.article_id for c in supporting}),
    )


def citation_of(hit: Hit, candidate: Candidate, start: int | None = None, end: int | None = None) -> Citation:
    """The citation of the hit's passage (or of the span start:end of the candidate's article)."""
    passage = hit.chunk
    return Citation(
        issue_id=candidate.article.issue_id,
        issue_label=candidate.issue_label,
        issue_source=candidate.issue_source,
        article_id=candidate.article.id,
        article_title=candidate.article.title,
        passage=passage.text if start is None else candidate.article.text[start:end],
        start=passage.start if start is None else start,
        end=passage.end if end is None else end,
        score=round(hit.score, 4),
        ocr_confidence=candidate.article.ocr_confidence,
    )


def _supporting(choice: Choice) -> tuple[Citation, ...]:
    """Other articles whose sentence states the same: the slot itself (the figure, the names)."""
    best = choice.reading.pair.candidate
    slot = best.article.text[choice.slot[0] : choice.slot[1]]
    if len(slot) < 2:
        return ()
    found: dict[str, Citation] = {}
    for score, pair in choice.scored[1:]:
        other = pair.candidate
        if other.article.id == best.article.id or other.article.id in found or score < _logit(SUPPORT_FROM):
            continue
        if slot in other.sentence.text:
            found[other.article.id] = citation_of(other.hit, other, other.sentence.start, other.sentence.end)
    return tuple(found.values())


def _related(hits: list[Hit], candidates: list[Candidate], cited: set[str]) -> tuple[Citation, ...]:
    """The rest of what retrieval found, one passage per article, for 'see also'."""
    by_article = {c.article.id: c for c in candidates}
    related: dict[str, Citation] = {}
    for hit in hits:
        article_id = hit.chunk.article_id
        if article_id in cited or article_id in related or article_id not in by_article:
            continue
        related[article_id] = citation_of(hit, by_article[article_id])
    return tuple(related.values())


def _not_found(question, candidates, stats, hits, weights, choice) -> Answer:
    note = _other_period(question, candidates, stats, weights)
    message = NOT_FOUND
    if note is not None:
        message = f"简报中没有{note.asked}的数字；{note.stated}为：{note.text}"
    elif question.required_places and not any(allowed(question, c) for c in candidates):
        message = f"简报中没有找到关于{'、'.join(_missing_places(question, candidates))}的这项内容。"
    confidence = shown_confidence(choice.confidence) if choice else 0.0
    return Answer(
        question=question.text,
        found=False,
        message=message,
        confidence=confidence,
        confidence_words=weights.words_for(confidence),
        related=_related(hits, candidates, set()),
        other_period=note,
    )


def _missing_places(question: Question, candidates: list[Candidate]) -> tuple[str, ...]:
    """The places of the question that no candidate article names (all of them if each is named somewhere but
    never together): '宜昌市西陵区…' is missing 西陵, not 宜昌."""
    places = question.required_places
    articles = {c.article.id: c.article for c in candidates}.values()
    missing = tuple(p for p in places if not any(_names(article, p) for article in articles))
    return missing or places


def _other_period(question: Question, candidates: list[Candidate], stats: TermStats, weights: Weights) -> PeriodNote | None:
    """When the question asks for a period, the same metric stated for another period."""
    if not question.period:
        return None
    unbounded = replace(question, period=Period())
    others = [c for c in candidates if allowed(unbounded, c) and conflicts(question.period, c.sentence.in_force)]
    choice = choose(unbounded, others, stats, weights) if others else None
    if choice is None or choice.answerable < weights.other_period_from:
        return None
    if choice.reading.pair.coverage < OTHER_PERIOD_MIN_COVERAGE:
        return None  # a sentence of that place and another year, but not about the metric asked
    best = choice.reading.pair.candidate
    return PeriodNote(
        asked=period_label(question.period),
        stated=period_label(_period_of(choice.window.text, best.sentence.in_force, best.sentence.text)),
        text=choice.window.text,
        citation=citation_of(best.hit, best, choice.window.start, choice.window.end),
    )


def shown_confidence(probability: float) -> float:
    """The confidence as shown: rounded down to 3 decimals, so that it never reaches the next words' floor before
    the probability does (0.8496 is 0.849, 把握一般 — rounded to nearest it read 0.85 beside 把握一般, whose floor
    0.85 is 把握较高's; the page likewise rounds its percentage down)."""
    return math.floor(probability * 1000 + 1e-9) / 1000


def _period_of(window: str, in_force: Period, sentence: str = "") -> Period:
    """The period of the quoted words: the years their opening clause names ('2021年，…7005.7亿元，是2012年的2.8倍'
    is about 2021; later years are comparisons), else those its sentence opens with (the words may leave the
    sentence's '2021年，' out), else what is in force for its sentence."""
    for text in (window, sentence):
        own = find_period(re.split(r"[，,；;]", text, maxsplit=1)[0])
        if own.years:
            return Period(own.years, own.part or (in_force.part if own.years <= in_force.years else None))
    return in_force


def _logit(p: float) -> float:
    return float(np.log(p / (1.0 - p)))
