"""Figures given 'respectively' (分别): '兴发集团、宜昌人福、宜化集团、安琪集团2022年累计完成研发投入分别达6.6亿元，
5亿元、4.5亿元、5.8亿元' gives each listed name its figure, in order. For a question that names one of the names,
the answer is that name's figure, and the answer quotes from the list to it: the window the span model would choose
holds the first figure, whoever is asked about. For several names, their figures."""

from __future__ import annotations

import re
from collections import Counter
from dataclasses import dataclass

from ..retrieve import Candidate
from .features import _figures, unit_matches
from .lexicon import lexicon
from .question import Question
from .spans import JOINERS_RE, NAME_LIST_RE, Window, clauses

_MARK = "分别"
_VERB_CHARS = 6  # '分别位列', '分别居全省第': the words between 分别 and the first figure
_BETWEEN_RE = re.compile(r"[、，,\s和及与第]{1,3}")  # what may stand between two figures of the run
_MIN_NAMED = 2  # characters of a name the question must state (and no other name of the list holds)
_CLEAR_NAME = 4  # '兴发集团'


@dataclass(frozen=True, slots=True)
class Aligned:
    """Offsets into the sentence: where the list of names begins, and the asked name's figure (or the run of the
    asked names' figures)."""

    list_start: int
    start: int
    end: int


def respective_answer(question: Question, candidate: Candidate, window: Window) -> tuple[Window, tuple[int, int]] | None:
    """For a question naming a name of the sentence's list, the window from the clause where the list begins to
    that name's figure (the chosen window if it already holds both), and the figure as the answer slot (for several
    names, to the last of their figures, all of them the slot); None when the sentence gives nothing respectively
    to a name the question names."""
    sentence = candidate.sentence
    aligned = aligned_figure(question, sentence.text)
    if aligned is None:
        return None
    text = candidate.article.text
    begin, end = sentence.start + aligned.list_start, sentence.start + aligned.end
    slot = (sentence.start + aligned.start, end)
    if window.start <= begin and end <= window.end:
        return window, slot
    parts = clauses(text, sentence.start, sentence.end) or [(sentence.start, sentence.end)]
    first = next(i for i, (a, b) in enumerate(parts) if b > begin)
    last = next((i for i, (a, b) in enumerate(parts) if b >= end), len(parts) - 1)
    start = parts[first][0]
    return Window(start, end, text[start:end], last - first + 1, first == 0, end >= parts[-1][1], (first, last)), slot


def aligned_figure(question: Question, text: str) -> Aligned | None:
    """The figure `text` gives, after 分别, to the name of its list that the question names — for several names
    named, the figures from the first of theirs to the last; None when the sentence gives no figures respectively,
    when their count differs from the names', when the question names none of them, or when the figure is not in
    the unit the question asks for."""
    if question.kind != "number" or _MARK not in text:
        return None
    for mark in re.finditer(_MARK, text):
        figures = _figure_run(text, mark.end())
        if len(figures) < 2:
            continue
        names = _names_before(text[: mark.start()], len(figures))
        if names is None:
            continue
        list_start, items = names
        asked = _asked_items(question, items)
        if not asked:
            continue
        (start, first_end), end = figures[asked[0]], figures[asked[-1]][1]
        if question.unit not in (None, "rank") and not unit_matches(question, text[start:first_end]):
            return None
        return Aligned(list_start, start, end)
    return None


def _figure_run(text: str, at: int) -> list[tuple[int, int]]:
    """The figures in a row after 分别 (within a few characters of it, separated only by 、，和 …)."""
    stop = re.search(r"[。；;！？]", text[at:])
    tail_end = at + stop.start() if stop else len(text)
    allowed = set(_figures(text[at:tail_end]))
    run: list[tuple[int, int]] = []
    position = at
    for match in lexicon().number.finditer(text, at, tail_end):
        figure = match.group(0).strip()
        if figure not in allowed or not re.search(r"\d", figure):
            continue
        start = match.start() + (len(match.group(0)) - len(match.group(0).lstrip()))
        gap = text[position:start]
        if run and not _BETWEEN_RE.fullmatch(gap):
            break
        if not run and len(gap) > _VERB_CHARS:
            return []
        run.append((start, start + len(figure)))
        position = start + len(figure)
    return run


def _names_before(text: str, count: int) -> tuple[int, list[str]] | None:
    """The nearest list of exactly `count` names before 分别 in the sentence: where it begins and its items."""
    for match in reversed(list(NAME_LIST_RE.finditer(text))):
        items = _items(match.group(0))
        if len(items) == count:
            return match.start(), items
    return None


def _items(listed: str) -> list[str]:
    """'A、B、C和D' → A, B, C, D. Only the last part splits at a joiner, and only into two names of two characters
    or more ('呼和浩特' is one name). The last name is cut after the ending the others share, since nothing but a
    break stops it ('安琪集团2022年累计…' → '安琪集团')."""
    items = listed.split("、")
    last = items.pop()
    for joiner in JOINERS_RE.finditer(last):
        if joiner.start() >= 2 and len(last) - joiner.end() >= 2:
            items.append(last[: joiner.start()])
            last = last[joiner.end():]
            break
    ending = _shared_ending(items)
    at = last.find(ending) if ending else -1
    if at > 0:
        last = last[: at + len(ending)]
    digit = re.search(r"\d", last[2:])  # '安琪集团2022年…': a year or a figure is where a name ends
    return items + [last[: digit.start() + 2] if digit else last]


def _shared_ending(items: list[str]) -> str:
    """The longest ending (up to three characters) at least half of the items have ('集团', '高新区')."""
    for size in (3, 2, 1):
        endings = Counter(item[-size:] for item in items if len(item) > size)
        if endings:
            ending, count = endings.most_common(1)[0]
            if 2 * count >= len(items):
                return ending
    return ""


def _asked_items(question: Question, items: list[str]) -> list[int]:
    """The items the question names, in order: by the longest stretch of an item the question states and no other
    item holds ('包头稀土高新区' against '呼和浩特金山高新区': '高新区' names neither). When several are named, a place the
    question names may be where it asks about rather than an item: without the places, one whole name of
    _CLEAR_NAME characters or more decides ('宜昌兴发集团' names 兴发集团, not 宜昌人福)."""
    named = _named(question.text, items)
    if len(named) < 2:
        return named
    reach = [_own_stretch(question.text, item, items[:n] + items[n + 1:], frozenset(question.places))
             for n, item in enumerate(items)]
    ranked = sorted(reach)
    return [reach.index(ranked[-1])] if ranked[-1] >= _CLEAR_NAME and ranked[-2] < _MIN_NAMED else named


def _named(question: str, items: list[str]) -> list[int]:
    reach = [_own_stretch(question, item, items[:n] + items[n + 1:], frozenset()) for n, item in enumerate(items)]
    return [n for n, length in enumerate(reach) if length >= _MIN_NAMED]


def _own_stretch(question: str, item: str, others: list[str], skip: frozenset[str]) -> int:
    """The longest stretch of `item` that the question states and no other item holds (nor part of a place in `skip`)."""
    longest = 0
    for i in range(len(item)):
        for j in range(len(item), i + max(longest, _MIN_NAMED - 1), -1):
            piece = item[i:j]
            if (piece in question and not any(piece in place for place in skip)
                    and not any(piece in other for other in others)):
                longest = j - i
                break
    return longest
