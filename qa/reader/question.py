"""Question text → what the reader looks for: the kind of answer, the content terms with their
idf weights, the places and the period the answer must agree with, and the unit asked for."""

from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass
from functools import cached_property
from typing import Sequence

from ..keywords import PLACE_SUFFIX, KeywordTokenizer, place_stem
from ..periods import find_period, period_spans
from ..schema import Period
from ..sentences import TermStats
from .gazetteer import county_names, division_names, is_place, outside, province_code
from .lexicon import lexicon

_COORDINATION = re.compile(r"和|与|及|以及|还是|、|跟|同|[？?；;]")  # or two questions: '池州签约了多少？淮南呢？'
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
    focus: str | None = None  # the kind of thing asked for: '什么制度' → '制度', '哪个开发区' → '开发区'
    topic: str = ""  # the question without its places and period: what is asked about them (see topic_of)

    # Asked of the question once per candidate sentence: worked out once.
    @cached_property
    def known_terms(self) -> dict[str, float]:
        """The content terms some sentence of the build contains, with their idf (coverage is the share of these)."""
        return {t: w for t, w in self.terms.items() if t not in self.unknown_terms}

    @cached_property
    def required_places(self) -> tuple[str, ...]:
        """The places an answer's article must name: a province is implied by a city in it
        ('湖北宜昌' needs only 宜昌); with '和/与', any one of them (see places_any)."""
        words = lexicon()
        specific = tuple(p for p in self.places if p not in words.provinces)
        return specific or self.places

    @cached_property
    def required_counties(self) -> tuple[str, ...]:
        """The county-level places among them ('集美区', '红安县'): named near the sentence, not only in its article."""
        return tuple(p for p in self.required_places if p in county_names())

    @property
    def asks_figure_in_unit(self) -> bool:
        """A figure asked for in a unit ('多少家', '比例', money); a rank is left out (it may be written '第十')."""
        return self.kind == "number" and self.unit not in (None, "rank")


_BOOK_TITLE_RE = re.compile(r"《[^》]*》")


def parse_question(text: str, tokenizer: KeywordTokenizer, stats: TermStats) -> Question:
    words = lexicon()
    unquoted = _BOOK_TITLE_RE.sub("《》", text)  # a document's title says nothing of what is asked: '…若干举措的通知》是谁印发的'
    kind = next((name for name, cue in words.kinds if cue.search(unquoted)), "other")
    places: dict[str, None] = {}
    last_county = ""  # '海曙老城区': a district has no districts, so one right after another names a part of it
    for word, tag in tokenizer.tagged(text):
        stem = place_stem(word)
        county = stem in county_names()
        if county and last_county and last_county + word in text:
            last_county = ""
            continue
        tagged_place = tag == "ns" and len(word) >= 2 and not {word, stem} & words.generic_regions
        district = tag.startswith("n") and words.district.fullmatch(word)  # jieba tags many districts as plain nouns
        # a division's name with a suffix, whatever the tag ('吴忠市', '恩施州' nr)
        division = word != stem and bool({word, stem} & division_names())
        last_county = ""
        if division or ((tagged_place or district) and is_place(word, tokenizer.places)):  # not '上台', '城市'
            places[stem] = None
            last_county = word if county else ""
    provinces = frozenset(filter(None, (province_code(p) for p in places if p in words.provinces)))
    places = {p: None for p in places if not outside(p, provinces)}
    specific = [p for p in places if p not in words.provinces]
    ordered = specific + [p for p in places if p in words.provinces]
    period = find_period(text)
    terms: dict[str, float] = {}
    unknown: set[str] = set()
    for token in tokenizer.tokens(text):
        if len(token) < 2 or token in words.stop_terms or _is_place_or_period(token, places):
            continue  # a single character is a function word ('让', '给') far more often than a term
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
        places_any=any(_COORDINATION.search(gap) for gap in between),
        period=period,
        unit=_asked_unit(text),
        wants_title=bool(_WANTS_TITLE.search(text)),
        chars=frozenset(_content_chars(text, places, words.stop_terms)),
        focus=_focus(text, tokenizer),
        topic=topic_of(text, ordered),
    )


def topic_of(text: str, places: Sequence[str]) -> str:
    """The question with its periods and places taken out ('宜昌市2023年研发经费投入是多少？' → '研发经费投入是多少？'):
    embedded on its own, it says whether a sentence is about the metric asked, whatever place and year it names."""
    for start, end in sorted(period_spans(text), reverse=True):
        text = text[:start] + text[end:]
    for place in sorted(places, key=len, reverse=True):
        text = re.sub(re.escape(place) + PLACE_SUFFIX + "?", "", text)
    return text.strip()


_FOCUS_RE = re.compile(r"(?:什么|哪些|哪个|哪家|哪所|哪几[个家项类所条]?|哪一[个家项类]?|哪两[个家]?|哪[两三四五]个|啥|怎样的|什么样的?)([\u4e00-\u9fff]{2,8})")


def _focus(text: str, tokenizer: KeywordTokenizer) -> str | None:
    """The noun right after the question word: the type of the answer ('什么管理办法' → '办法')."""
    match = _FOCUS_RE.search(text)
    if not match:
        return None
    words = tokenizer.words(match.group(1))
    if not words or len(words[0]) < 2:
        return None
    return words[0] if len(words[0]) <= 3 else words[0][-2:]


def _is_place_or_period(token: str, places: dict[str, None]) -> bool:
    return any(token in place or place in token for place in places) or bool(find_period(token))


def _between_places(text: str, places: list[str]) -> list[str]:
    """The text between each place named and the next ('安徽…池州签约了多少？淮南呢': '…，' and '签约了多少？')."""
    positions = sorted((text.find(p), p) for p in places if p in text)
    return [text[first + len(name) : second] for (first, name), (second, _) in zip(positions, positions[1:])]


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


_FOLLOW_UP_RE = re.compile(
    r"^(?P<lead>那么?|还有|再问一下)?\s*(?P<subject>.{1,12}?)\s*(?P<tail>呢|怎么样|如何|的情况)?[？?。!！]*$"
)


def visible_text(text: str) -> str:
    """The question as a reader sees it: zero-width, direction and other format or control characters taken
    out (they split words and change the answer), tabs and line breaks as spaces."""
    spaced = _BREAKS_RE.sub(" ", text)
    return "".join(char for char in spaced if unicodedata.category(char) not in ("Cf", "Cc"))


_BREAKS_RE = re.compile(r"[\t\n\r\v\f\u2028\u2029]+")


def resolve_follow_up(text: str, history: Sequence[str], tokenizer: KeywordTokenizer) -> str:
    """A follow-up read against the previous question: another place ('那南京呢？' after '宁夏有多少家孵化器？' →
    '南京有多少家孵化器？'), another period ('那2021年呢？' → the same question for 2021), or another metric for the
    same place and period ('那研发强度呢？' after '2022年西安技术合同成交额是多少？' → '2022年西安研发强度是多少？')."""
    if not history:
        return text
    match = _FOLLOW_UP_RE.match(text.strip())
    if not match or len(text.strip()) > 14 or not (match.group("lead") or match.group("tail")):
        return text  # a short question of its own ('深圳市研发强度是多少？') is not a follow-up
    subject = _PRONOUN_RE.sub("", match.group("subject").strip()) or match.group("subject").strip()
    previous = history[-1]
    previous_places = [word for word, tag in tokenizer.tagged(previous) if tag == "ns"]
    if any(tag == "ns" for _, tag in tokenizer.tagged(subject)):
        for word in previous_places:
            if place_stem(word) not in subject:
                before, _, after = previous.partition(word)
                return before + subject + _SCOPE_RE.sub("", after, count=1)  # '南京全市…' → '宁夏…', not '宁夏全市…'
        return f"{subject}{previous}"
    stated = next((previous[start:end] for start, end in period_spans(previous)), "")
    if period_spans(subject) == [(0, len(subject))]:
        return previous.replace(stated, subject, 1) if stated else f"{subject}{previous}"
    asks = "是多少？" if re.search(r"多少|几", previous) else "？"
    return f"{stated}{''.join(dict.fromkeys(previous_places))}{subject}{asks}"


_SCOPE_RE = re.compile(r"^全[市省区县州盟]")  # the previous place's own scope: wrong for another kind of place
_PRONOUN_RE = re.compile(r"^(?:它的|它|其|该[市省县区]的?|那里的?|这里的?|当地的?)")
