"""Article → evidence units: every sentence with its offsets and the context a reader needs to
judge it — its section heading and paragraph lead, the period stated in it or in force from
earlier in its paragraph, the places it names, and its keyword tokens. Built once per build.
Also the build's term statistics (sentence document frequencies) for the reader's weights."""

from __future__ import annotations

import math
import re
from collections import Counter
from dataclasses import dataclass
from typing import Iterable

from .chunking import sentence_spans
from .keywords import KeywordTokenizer, place_stem
from .periods import find_period
from .schema import Article, Period

MAX_LEAD_CHARS = 32  # a paragraph's first sentence this short is a lead ('一是强化平台支撑。')
_HEADING_END = re.compile(r"[。！？!?；;，,：:]$")
_YEAR_IN_LABEL = re.compile(r"((?:19|20)\d\d)\s*年")


@dataclass(frozen=True, slots=True)
class Sentence:
    article_id: str
    ordinal: int  # within the article
    start: int  # offsets into Article.text
    end: int
    text: str
    paragraph: int  # ordinal of its paragraph (line) in the article
    heading: str  # the section heading above it, '' if none
    lead: str  # its paragraph's short first sentence when that is not itself, else ''
    stated: Period  # the period the sentence names
    in_force: Period  # stated, else the latest one named earlier in its paragraph
    places: tuple[str, ...]  # place names (stems) the sentence names
    tokens: tuple[str, ...]  # keyword tokens (jieba search mode, stopwords dropped)


@dataclass(frozen=True, slots=True)
class ArticleContext:
    """What holds for a whole article: the places it names (title first) and its base year."""

    article_id: str
    title_places: tuple[str, ...]
    places: tuple[str, ...]
    base_year: int | None


@dataclass(frozen=True, slots=True)
class TermStats:
    """Sentence-level document frequencies of one build, for idf weights and BM25."""

    sentences: int
    average_length: float
    document_frequency: dict[str, int]

    def idf(self, term: str) -> float:
        df = self.document_frequency.get(term, 0)
        return math.log(1.0 + (self.sentences - df + 0.5) / (df + 0.5))


def base_year(issue_label: str) -> int | None:
    """The year '今年' means in an issue: the year of its label ('2023年第6期' → 2023)."""
    match = _YEAR_IN_LABEL.search(issue_label)
    return int(match.group(1)) if match else None


def article_sentences(
    article: Article, issue_label: str, tokenizer: KeywordTokenizer, known_places: frozenset[str] = frozenset()
) -> tuple[list[Sentence], ArticleContext]:
    """The evidence units of one article, and its context."""
    year = base_year(issue_label)
    sentences: list[Sentence] = []
    heading = ""
    for paragraph, (p_start, p_end) in enumerate(_paragraphs(article.text)):
        spans = list(sentence_spans(article.text, p_start, p_end))
        if len(spans) == 1 and _is_heading(article.text[spans[0][0] : spans[0][1]]):
            heading = article.text[spans[0][0] : spans[0][1]]
            continue
        lead_text = article.text[spans[0][0] : spans[0][1]] if spans else ""
        lead_text = lead_text if len(lead_text) <= MAX_LEAD_CHARS else ""
        in_force = Period()
        for n, (start, end) in enumerate(spans):
            text = article.text[start:end]
            stated = find_period(text, year)
            in_force = _carry(in_force, stated)
            sentences.append(
                Sentence(
                    article_id=article.id,
                    ordinal=len(sentences),
                    start=start,
                    end=end,
                    text=text,
                    paragraph=paragraph,
                    heading=heading,
                    lead=lead_text if n > 0 else "",
                    stated=stated,
                    in_force=in_force,
                    places=tuple(_places(tokenizer, text, known_places)),
                    tokens=tuple(tokenizer.tokens(text)),
                )
            )
    title_places = tuple(_places(tokenizer, article.title, known_places))
    every = dict.fromkeys(title_places + tuple(p for s in sentences for p in s.places))
    return sentences, ArticleContext(article.id, title_places, tuple(every), year)


def term_stats(sentences: Iterable[Sentence]) -> TermStats:
    df: Counter[str] = Counter()
    count = total = 0
    for sentence in sentences:
        count += 1
        total += len(sentence.tokens)
        df.update(set(sentence.tokens))
    return TermStats(count, total / max(count, 1), dict(df))


def _paragraphs(text: str) -> Iterable[tuple[int, int]]:
    start = 0
    for line in text.split("\n"):
        if line.strip():
            yield start, start + len(line)
        start += len(line) + 1


def _is_heading(text: str) -> bool:
    """A line with no sentence punctuation at its end, short: a section heading of the article."""
    return len(text) <= 40 and not _HEADING_END.search(text)


def _carry(in_force: Period, stated: Period) -> Period:
    """A sentence's own period replaces what was in force; a part without a year keeps the year."""
    if stated.years:
        return stated
    if stated.part:
        return Period(in_force.years, stated.part)
    return in_force


def _places(tokenizer: KeywordTokenizer, text: str, known: frozenset[str]) -> list[str]:
    found = dict.fromkeys(place_stem(word) for word, tag in tokenizer.tagged(text) if tag == "ns" and len(word) >= 2)
    found.update(dict.fromkeys(place for place in known if place in text and place not in found))
    return list(found)


def evidence_units(issues: Iterable, tokenizer: KeywordTokenizer) -> tuple[list[Sentence], dict[str, ArticleContext]]:
    """Every sentence of every article of `issues`, in order, and each article's context."""
    sentences: list[Sentence] = []
    contexts: dict[str, ArticleContext] = {}
    for issue in issues:
        for article in issue.articles:
            units, context = article_sentences(article, issue.label, tokenizer)
            sentences += units
            contexts[article.id] = context
    return sentences, contexts


def sentence_embedding_text(title: str, sentence: Sentence) -> str:
    """What the embedder sees for a sentence: the sentence itself (its article's title and places
    are the reader's other features)."""
    return sentence.text


def sentence_context_text(title: str, sentence: Sentence) -> str:
    """The sentence's second vector: the sentence read under its article's title and its section heading
    ('…加速科技成果转化：三是引育转化载体。 深化与长三角…'), so that a question worded like the title or the
    heading comes close to a sentence that does not repeat them (cross-validated: answer +0.9, precision@0.8
    +0.7 points as two sentence features beside the sentence's own cosine)."""
    heading = sentence.heading if sentence.heading and sentence.heading != sentence.text else ""
    return f"{title}：{heading + ' ' if heading else ''}{sentence.text}"
