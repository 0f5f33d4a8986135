"""Question text → what the reader looks for: the kind of answer, the content terms with their
idf weights, the places and the period the answer must agree with, and the unit asked for."""

from __future__ import annotations

import re
from dataclasses import dataclass

from ..keywords import KeywordTokenizer, place_stem
from ..periods import find_period
from ..schema import Period
from ..sentences import TermStats
from .lexicon import lexicon

_COORDINATION = re.compile(r"和|与|及|以及|还是|、|跟|同")
_CJK = re.compile(r"[\u4e00-\u9fff]")
_WANTS_TITLE = re.compile(r"题目|标题|文章叫|篇名")


@dataclass(frozen=True)
class Question:
    text: str
    kind: str  # number | entity | how | issue | other
    terms: dict[str, float]  # content terms (not places, periods or question words) → idf
    unknown_terms: frozenset[str]  # content terms no sentence of the build contains
    places: tuple[str, ...]  # stems of the places named, most specific first
    places_any: bool  # '黄山和淮南…': one of the places suffices
    period: Period
    unit: str | None  # rank | % | money | a counting unit such as 家 | None
    wants_title: bool
    chars: frozenset[str]  # content characters, for overlap with paraphrased sentences


def parse_question(text: str, tokenizer: KeywordTokenizer, stats: TermStats) -> Question:
    words = lexicon()
    kind = next((name for name, cue in words.kinds if cue.search(text)), "other")
    places: dict[str, None] = {}
    for word, tag in tokenizer.tagged(text):
        stem = place_stem(word)
        if tag == "ns" and len(word) >= 2 and word not in words.generic_regions and stem not in words.generic_regions:
            places[stem] = None
    specific = [p for p in places if p not in words.provinces]
    ordered = specific + [p for p in places if p in words.provinces]
    period = find_period(text)
    terms: dict[str, float] = {}
    unknown: set[str] = set()
    for token in tokenizer.tokens(text):
        if token in words.stop_terms or _is_place_or_period(token, places) or not _CJK.search(token) and not token.isalnum():
            continue
        if re.fullmatch(r"(?:19|20)\d\d", token) or re.fullmatch(r"\d+", token):
            continue
        terms[token] = stats.idf(token)
        if stats.document_frequency.get(token, 0) == 0:
            unknown.add(token)
    between = _between_places(text, list(places))
    return Question(
        text=text,
        kind=kind,
        terms=terms,
        unknown_terms=frozenset(unknown),
        places=tuple(ordered),
        places_any=bool(between and _COORDINATION.search(between)),
        period=period,
        unit=_asked_unit(text),
        wants_title=bool(_WANTS_TITLE.search(text)),
        chars=frozenset(_content_chars(text, places, words.stop_terms)),
    )


def required_places(question: Question) -> tuple[str, ...]:
    """The places an answer's article must name: a province is implied by a city in it
    ('湖北宜昌' needs only 宜昌); with '和/与', any one of them (see Question.places_any)."""
    words = lexicon()
    specific = tuple(p for p in question.places if p not in words.provinces)
    return specific or question.places


def _is_place_or_period(token: str, places: dict[str, None]) -> bool:
    return any(token in place or place in token for place in places) or bool(find_period(token))


def _between_places(text: str, places: list[str]) -> str:
    positions = sorted((text.find(p), p) for p in places if p in text)
    if len(positions) < 2:
        return ""
    (first, name), (second, _) = positions[0], positions[1]
    return text[first + len(name) : second]


def _asked_unit(text: str) -> str | None:
    units = lexicon().asked_units
    for name in ("rank", "%"):
        if units[name].search(text):
            return name
    match = units["count"].search(text)
    if match:
        return match.group(1)
    return "money" if units["money"].search(text) else None


def _content_chars(text: str, places: dict[str, None], stop_terms: frozenset[str]) -> set[str]:
    for word in sorted(stop_terms | set(places), key=len, reverse=True):
        text = text.replace(word, " ")
    return set(_CJK.findall(text))
