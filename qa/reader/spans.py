"""Inside the chosen sentence: the smallest run of clauses that holds the answer (scored by the
span model), and the answer slot inside it to highlight — the asked figure, or the names."""

from __future__ import annotations

import math
import re
from dataclasses import dataclass
from typing import Callable

from ..chunking import sentence_spans
from ..keywords import proper_names
from ..retrieve import Candidate
from .features import _coverage, _figures, label_coverage, states_unit, unit_matches
from .lexicon import lexicon
from .question import Question

MAX_SPAN_CHARS = 160
MAX_CLAUSES = 2
HEADING_CHARS = 32  # a paragraph's opening sentence this short is its heading ('健全技术需求征集机制。')
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
    span: tuple[int, int] = (0, 0)  # its first and last clause, by index in the sentence


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
    return [span for span in (trim(text, a, b) for a, b in spans) if span[1] > span[0]]


def trim(text: str, a: int, b: int) -> tuple[int, int]:
    """text[a:b] without the spaces before it and the spaces and sentence ends after it."""
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
            found.append(Window(start, end, text[start:end], j - i + 1, i == 0, j == len(parts) - 1, (i, j)))
    return found


def body_under(candidate: Candidate) -> Window | None:
    """When the candidate sentence is a paragraph's heading, the sentences under it (as many as fit
    MAX_SPAN_CHARS, or the clauses of the first that fit): how a heading's measure is carried out. None when
    it is no heading or nothing follows it in its paragraph."""
    text, sentence = candidate.article.text, candidate.sentence
    if candidate.previous or len(sentence.text) > HEADING_CHARS:
        return None
    line_end = text.find("\n", sentence.end)
    body = list(sentence_spans(text, sentence.end, len(text) if line_end < 0 else line_end))
    if not body:
        return None
    start, end = body[0]
    if end - start > MAX_SPAN_CHARS:  # one long sentence: the clauses of it that fit
        end = next((b for _, b in reversed(clauses(text, start, end)) if b - start <= MAX_SPAN_CHARS), start + MAX_SPAN_CHARS)
    else:
        for _, next_end in body[1:]:
            if next_end - start > MAX_SPAN_CHARS:
                break
            end = next_end
    return Window(start, end, text[start:end], 0, True, False)


@dataclass(frozen=True, slots=True)
class SpanPair:
    question: Question
    window: Window
    sentence_coverage: float
    coverage: float  # of the question's terms, in the window
    rest_coverage: float  # in the rest of the sentence and its lead (where a restatement sits)
    figures: tuple[str, ...]
    echo: int  # index of the clause that states most of the question (the restatement)


def span_pairs(question: Question, candidate: Candidate) -> list[SpanPair]:
    """The windows of the candidate sentence, seen against the question. For a figure asked for in a unit, only
    the windows that state one in that unit, when some do (a clause restating the question is no answer to
    '多少家'; LOBO tight 70.4 → 71.1 %, precision@0.8 91.5 → 92.5 %). For a how-question, not the clause that
    states most of the question on its own (how-questions answered 76.0 → 78.8 %)."""
    found = _span_pairs(question, candidate)
    if question.asks_figure_in_unit:
        holding = [p for p in found if states_unit(question, p.figures)]
        return holding or found
    if question.kind == "how":  # the clause stating most of the question, alone, restates it: the measure is elsewhere
        answering = [p for p in found if not (p.window.clauses == 1 and p.window.span[0] == p.echo and p.coverage > 0)]
        return answering or found
    return found


def _span_pairs(question: Question, candidate: Candidate) -> list[SpanPair]:
    sentence, text = candidate.sentence, candidate.article.text
    sentence_coverage = _coverage(question, sentence.text, sentence.tokens)
    spans = windows(candidate)
    singles = [w for w in spans if w.clauses == 1]
    echo = max(range(len(singles)), key=lambda k: _coverage(question, singles[k].text, ())) if singles else 0
    found = []
    for w in spans:
        rest = text[sentence.start : w.start] + " " + text[w.end : sentence.end] + " " + sentence.lead + candidate.previous
        found.append(SpanPair(question, w, sentence_coverage, _coverage(question, w.text, ()),
                              _coverage(question, rest, ()), tuple(_figures(w.text)), echo))
    return found


def _novelty(p: SpanPair) -> float:
    chars = set(_CJK.findall(p.window.text))
    return len(chars - p.question.chars) / len(chars) if chars else 0.0


def _kind_cue(kind: str, cue: Callable[[SpanPair], float]) -> Callable[[SpanPair], float]:
    return lambda p: cue(p) if p.question.kind == kind else 0.0


def _novel_chars(p: SpanPair) -> float:
    return math.log1p(len(set(_CJK.findall(p.window.text)) - p.question.chars)) / 4


def _term_then_figure(p: SpanPair) -> float:
    """A figure right after one of the question's terms ('总算力达到2000PFlops')."""
    text = p.window.text
    for match in lexicon().number.finditer(text):
        before = text[max(0, match.start() - 6) : match.start()]
        if match.group(0).strip() in p.figures and any(term in before for term in p.question.terms):
            return 1.0
    return 0.0


_REACHES_RE = re.compile(r"(?:至|到|达|为|是)\s*(?:约|近|超过?|突破)?\s*\d")


def _reaches_figure(p: SpanPair) -> float:
    """The window states a value reached ('提升至45.1%', '达到1187家', '由5.45升高至6.23')."""
    return float(bool(_REACHES_RE.search(p.window.text)))


def _starts_with_measure(p: SpanPair) -> float:
    return float(bool(lexicon().measure_verbs.match(p.window.text)))


def _new_names(p: SpanPair) -> float:
    """Proper names the window holds that the question does not state (what a '哪所高校', '哪位院士' asks for;
    the clause restating the question has none): a span feature for entity questions — cross-validated, entity
    answers 84.8 → 85.9 %, tight 72.3 → 75.0 %; with a second one for quoted names the question does not quote,
    entity 86.4 % but tight 71.2 %."""
    return min(sum(name not in p.question.text for name in proper_names(p.window.text)), 3) / 3


def _overlap(p: SpanPair) -> float:
    return len(p.question.chars & set(p.window.text)) / max(len(p.question.chars), 1)


def _by_kind(name: str, measure: Callable[[SpanPair], float]):
    """A measure of how much the window states the question means opposite things by kind: for a
    figure it marks the clause that holds it, for a measure or a name the clause that merely
    restates the question — so each kind gets its own weight."""
    return (
        (f"{name}_number", lambda p: measure(p) if p.question.kind == "number" else 0.0),
        (f"{name}_how", lambda p: measure(p) if p.question.kind == "how" else 0.0),
        (f"{name}_other", lambda p: measure(p) if p.question.kind not in ("number", "how") else 0.0),
    )


SPAN_FEATURES: tuple[tuple[str, Callable[[SpanPair], float]], ...] = (
    *_by_kind("coverage", lambda p: p.coverage),
    *_by_kind("coverage_share", lambda p: p.coverage / p.sentence_coverage if p.sentence_coverage else 0.0),
    *_by_kind("rest_coverage", lambda p: p.rest_coverage),
    *_by_kind("overlap", _overlap),
    *_by_kind("restates", lambda p: p.coverage * (1.0 - _novelty(p))),
    *_by_kind("first", lambda p: float(p.window.first)),
    *_by_kind("holds_echo", lambda p: float(p.window.span[0] <= p.echo <= p.window.span[1])),
    *_by_kind("before_echo", lambda p: float(p.window.span[1] == p.echo - 1)),
    *_by_kind("after_echo", lambda p: float(p.window.span[0] == p.echo + 1)),
    ("focus", lambda p: float(bool(p.question.focus) and p.question.focus in p.window.text)),
    ("focus_elsewhere", lambda p: float(bool(p.question.focus) and p.question.focus not in p.window.text)),
    ("novel_chars", _novel_chars),
    ("novelty", _novelty),
    ("starts_with_measure", _starts_with_measure),
    ("clauses", lambda p: p.window.clauses / MAX_CLAUSES),
    ("length", lambda p: math.log(len(p.window.text) + 1) / 5),
    ("last", lambda p: float(p.window.last)),
    ("whole", lambda p: float(p.window.first and p.window.last)),
    ("number", _kind_cue("number", lambda p: float(bool(p.figures)))),
    ("term_then_figure", _kind_cue("number", _term_then_figure)),
    ("label_coverage", _kind_cue("number", lambda p: label_coverage(p.question, p.window.text, p.figures))),
    ("reaches_figure", _kind_cue("number", _reaches_figure)),
    ("unit_match", _kind_cue("number", lambda p: float(states_unit(p.question, p.figures)))),
    ("rank", _kind_cue("number", lambda p: float(p.question.unit == "rank" and bool(re.search(r"第\s*[\d一二三四五六七八九十]+", p.window.text))))),
    ("list", lambda p: min(p.window.text.count("、"), 4) / 4),
    ("quoted", lambda p: float("“" in p.window.text or "《" in p.window.text)),
    ("new_names", _kind_cue("entity", _new_names)),
    ("organisation", lambda p: float(bool(lexicon().organisation.search(p.window.text)))),
    ("measure", _kind_cue("how", lambda p: min(len(lexicon().measure_verbs.findall(p.window.text)), 3) / 3)),
    ("period", lambda p: float(bool(p.question.period) and any(str(y) in p.window.text for y in p.question.period.years))),
    ("place", lambda p: float(any(place in p.window.text for place in p.question.places))),
)
SPAN_FEATURE_NAMES = tuple(name for name, _ in SPAN_FEATURES)


def span_vector(pair: SpanPair) -> list[float]:
    return [feature(pair) for _, feature in SPAN_FEATURES]


_REACHED_RE = re.compile(r"(?:至|到|达|为)$")
_FROM_RE = re.compile(r"(?:由|从)[^，。；]{0,6}$")
_ASKS_BEFORE_RE = re.compile(r"之前|以前|原来|原先|由多少|从多少|修复前|改革前|实施前")


def _figure_reached(before: str, after: str, question: str) -> float:
    """+1 for the figure a change reached ('由5.45升高至6.23' → 6.23), −1 for the one it started from; the
    other way round when the question asks for the value before."""
    reached = float(bool(_REACHED_RE.search(before))) - float(bool(_FROM_RE.search(before) and re.match(r"[^，。；]{0,8}?(?:至|到)", after)))
    return -reached if _ASKS_BEFORE_RE.search(question) else reached


def _inside_quotes(text: str, at: int) -> bool:
    """Is position `at` inside quotes or a book title (a name: '甬优“31”号', '《2023年…》')?"""
    head = text[:at]
    return any(head.count(opener) > head.count(closer) for opener, closer in zip(_OPENERS, _CLOSERS) if opener in "“《「『")


_SUBSET_QUALIFIER = 10  # characters of the qualifier after 其中 ('新能源汽车产量达到' is 9)
_SUBSET_RE = re.compile(rf"其中([^，。；,;]{{1,{_SUBSET_QUALIFIER}}})$")


def _asked_subset(before: str, question: Question) -> bool:
    """The figure of a subset ('其中国家级59家') whose qualifier the question names."""
    match = _SUBSET_RE.search(before)
    return bool(match) and any(term in match.group(1) for term in question.terms)


def highlight(question: Question, window: Window) -> tuple[int, int]:
    """The answer slot inside the window: for a figure asked for, the figure (in the asked unit,
    nearest the question's own words); for a name asked for, the names (see _names_slot); otherwise the
    whole window."""
    if question.kind == "entity":
        slot = _names_slot(question, window.text)
        return (window.start + slot[0], window.start + slot[1]) if slot else (window.start, window.end)
    if question.kind != "number":
        return window.start, window.end
    best, best_value = (window.start, window.end), -1.0
    figures = set(_figures(window.text))  # once per window, not once per number in it
    for match in lexicon().number.finditer(window.text):
        figure = match.group(0).strip()
        if figure not in figures or not re.search(r"\d|[两二三四五六七八九十百千]", figure):
            continue
        if _inside_quotes(window.text, match.start()):  # '甬优“31”号' is a name, not a figure
            continue
        before = window.text[max(0, match.start() - 10) : match.start()]
        after = window.text[match.end() : match.end() + 10]
        value = 2.0 * unit_matches(question, figure) + float(bool(re.search(r"\D$", figure)))
        value += float(any(term in before for term in question.terms))
        value += 0.5 * any(term in before[-5:] for term in question.terms)  # the words right before it name it
        value += 2.0 * (question.unit == "rank" and before.endswith("第"))  # '排名第17位', not '50强'
        value += _figure_reached(before, after, question.text)
        subset_before = window.text[max(0, match.start() - _SUBSET_QUALIFIER - 2) : match.start()]  # with 其中
        value += 1.5 * _asked_subset(subset_before, question)  # '236家，其中国家级59家' asked about 国家级: 59家
        if value > best_value:
            offset = window.start + match.start()
            best, best_value = (offset, offset + len(figure)), value
    return _with_negation(window, best)


_BOUND_RE = re.compile(r"超过|高于|低于|少于|多于|大于|小于|足|满|到")


def _with_negation(window: Window, slot: tuple[int, int]) -> tuple[int, int]:
    """A bound's negation goes with it: '最高不超过100万元' marks '不超过100万元' — '超过100万元' alone reads as its
    opposite."""
    at = slot[0] - window.start
    if 0 < at < len(window.text) and window.text[at - 1] == "不" and _BOUND_RE.match(window.text, at):
        return slot[0] - 1, slot[1]
    return slot


_ITEM = r"[^，。；：,;:、\s“”《》]{2,16}"  # a name may hold brackets: '科技创新基地（平台）计划'
NAME_LIST_RE = re.compile(rf"{_ITEM}(?:、{_ITEM})+(?:(?:和|及|以及|与){_ITEM})?")  # 'A、B和C'
_QUOTED_RE = re.compile(r"“[^“”]{2,40}”|《[^《》]{2,60}》")
JOINERS_RE = re.compile(r"以及|和|及|与")
_PLURAL_RE = re.compile(r"哪些|哪几|分别")  # several names asked for
_NAME_CHARS = 12  # a name in a list is rarely longer ('西安建筑科技大学' is 8)
_HEAD_RE = re.compile(r"[\u4e00-\u9fff]{0,8}?(?:计划|行动|工程|模式|制度|机制|平台|名单|品牌|活动|项目|基金|政策|团队|联盟|中心|清单|改革|体系|行|贷|港)|")


def _names_slot(question: Question, text: str) -> tuple[int, int] | None:
    """Where a window names what an entity question asks for: for several names ('哪些', '哪几'), a list of them
    ('西部超导、炬光科技、铂力特'); else a quoted name or 《document》 the question does not itself name, with the noun
    right after it, when that is the kind of thing asked for ('什么行动' → '“促优培育”行动', '什么计划' → '“海洋英才”集聚计划');
    None otherwise (measured on cross-validated answers: a quoted name picked without the kind asked for was another
    name than the gold one time in four)."""
    lists = []  # (names, start, end)
    for match in NAME_LIST_RE.finditer(text) if _PLURAL_RE.search(question.text) else ():
        items = match.group(0).split("、")
        end = match.end() - len(items[-1]) + len(re.split(r"等|\d", items[-1])[0])  # '华秦科技等一大批…': to 华秦科技
        items[-1] = text[match.end() - len(items[-1]) : end]
        others = items[1:-1] + JOINERS_RE.split(items[-1])
        if (len(items) < 3 and not JOINERS_RE.search(items[-1]) or max(map(len, others)) > _NAME_CHARS
                or any("的" in item for item in others)):
            continue  # two words in a row or a clause ('科学、客观地评价人员的能力和水平'), not a list of names
        if not any(item in question.text for item in others):  # from the clause's start: '孵化出西部超导、…'
            lists.append((len(others) + 1, match.start(), end))
    if lists:  # the longest list, the first of equals
        _, start, end = max(lists, key=lambda found: (found[0], -found[1]))
        return start, end
    focus = question.focus
    for match in _QUOTED_RE.finditer(text) if focus else ():
        head = _HEAD_RE.match(text, match.end()).group(0)
        if match.group(0)[1:-1] not in question.text and focus in match.group(0) + head:
            return match.start(), match.end() + len(head)
    return None
