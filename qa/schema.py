"""Records that flow through the pipeline: Issue/Article → Chunk → Hit → Answer with Citations."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True, slots=True)
class Article:
    id: str  # "2023-12/03": issue id + ordinal
    issue_id: str
    title: str
    text: str  # clean text; chunk and answer offsets point into it
    ordinal: int
    author: str | None = None  # the byline under the title ("张某某 陕西省宝鸡市科学技术局")
    ocr_confidence: float | None = None  # mean recognition confidence when the text came from OCR


@dataclass(frozen=True, slots=True)
class Issue:
    id: str  # "2023-12"
    label: str  # "2023年第12期"
    source: str  # file name the issue was parsed from
    articles: tuple[Article, ...] = ()


@dataclass(frozen=True, slots=True)
class Period:
    """A time a statement is about: years, and a part of the year ('H1', 'Q1-3', 'M1-4', 'end')."""

    years: frozenset[int] = frozenset()
    part: str | None = None

    def __bool__(self) -> bool:
        return bool(self.years or self.part)


@dataclass(frozen=True, slots=True)
class Chunk:
    id: str  # article id + "#" + ordinal
    article_id: str
    ordinal: int
    start: int  # character offsets into Article.text
    end: int
    text: str


@dataclass(frozen=True, slots=True)
class Hit:
    chunk: Chunk
    score: float  # fused score used for ranking
    dense_score: float = 0.0  # cosine similarity of question and chunk
    keyword_score: float = 0.0  # BM25 score
    dense_rank: int | None = None
    keyword_rank: int | None = None


@dataclass(frozen=True, slots=True)
class Citation:
    issue_id: str
    issue_label: str
    issue_source: str
    article_id: str
    article_title: str
    passage: str
    start: int
    end: int
    score: float
    ocr_confidence: float | None = None  # set when the article was read by OCR from a scan


@dataclass(frozen=True, slots=True)
class PeriodNote:
    """Beside a "not found": the bulletins state the asked metric for another period."""

    asked: str  # '2023年'
    stated: str  # '2022年'
    text: str  # the statement, verbatim
    citation: Citation


@dataclass(frozen=True, slots=True)
class AnswerItem:
    """One item of a list answer (an enumerated measure): verbatim, with offsets in the article."""

    text: str
    start: int
    end: int


@dataclass(frozen=True, slots=True)
class Answer:
    question: str
    found: bool
    message: str
    text: str | None = None
    start: int | None = None  # offsets of `text` in the article
    end: int | None = None
    highlight_start: int | None = None  # the answering span inside the article
    highlight_end: int | None = None
    confidence: float = 0.0  # calibrated probability that the answer shown is right
    confidence_words: str = ""  # what that probability means, in words whose precision was measured
    citation: Citation | None = None  # where the answer is quoted from
    supporting: tuple[Citation, ...] = ()  # other articles stating the same fact
    related: tuple[Citation, ...] = ()  # the rest of what retrieval found, for "see also"
    other_period: PeriodNote | None = None
    items: tuple[AnswerItem, ...] = ()  # a how-question about a whole article: its enumerated measures
    resolved_question: str | None = None  # a follow-up as the engine understood it
    build_id: str | None = None  # the index build that answered (set by the engine)

    @property
    def citations(self) -> tuple[Citation, ...]:
        """The answer's own citation, then the supporting ones, then the related ones."""
        return ((self.citation,) if self.citation else ()) + self.supporting + self.related
