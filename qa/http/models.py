"""The HTTP API's schema: pydantic models for asking, reading and health, their conversion from
pipeline records, and `answer_question`, the one response both /api/ask and `qa ask --json` give.
Flask-free, so the command line can use it. Upload and feedback models live with their routes."""

from __future__ import annotations

import re
import time
from dataclasses import asdict
from typing import Annotated, Any, Literal, Sequence
from urllib.parse import quote, urlencode

from pydantic import BaseModel, ConfigDict, Field, ValidationError, ValidationInfo, field_validator
from pydantic_core import PydanticCustomError

from .. import schema
from ..config import Settings
from ..engine import Engine, Status, Turn
from ..errors import BadQuestion, BadRequest
from ..reader.question import visible_text

DEFAULT_MAX_QUESTION_CHARS = Settings().max_question_chars
MAX_HISTORY_TURNS = 10
MAX_HISTORY_ANSWER_CHARS = 2000
"""An earlier answer as the page sends it back: a verbatim clause of a passage (~350 characters at most)."""


def article_url(article_id: str, start: int, end: int) -> str:
    """Where the web page shows an article with [start, end) highlighted."""
    return f"/articles/{quote(article_id, safe='/')}?{urlencode({'start': start, 'end': end})}"


# ---- requests ----------------------------------------------------------------------------


class HistoryTurn(BaseModel):
    """An earlier turn: its question has the same limit as the question asked now."""

    model_config = ConfigDict(strict=True, extra="ignore", frozen=True)

    question: str = Field(json_schema_extra={"maxLength": DEFAULT_MAX_QUESTION_CHARS})
    answer: str | None = Field(None, max_length=MAX_HISTORY_ANSWER_CHARS)

    @field_validator("question")
    @classmethod
    def _question_fits(cls, question: str, info: ValidationInfo) -> str:
        limit = (info.context or {}).get("max_question_chars", DEFAULT_MAX_QUESTION_CHARS)
        if len(question.strip()) > limit:
            raise PydanticCustomError("history_too_long", "history 中的问题太长：每个最多 {limit} 个字符", {"limit": limit})
        return question


class AskRequest(BaseModel):
    """A question; `history` holds earlier turns of the conversation, oldest first."""

    model_config = ConfigDict(strict=True, extra="ignore", frozen=True)

    question: str = Field(
        description="Trimmed before use; must not be blank.", json_schema_extra={"minLength": 1, "pattern": r"\S"}
    )
    top_k: int = Field(5, ge=1, le=20, description="How many passages to cite; a JSON integer (3.0 is rejected).")
    mode: Literal["hybrid", "dense", "keyword"] = "hybrid"
    issue: str | None = Field(None, description="Only search this issue id, e.g. 2023-12. Blank means all.")
    history: Annotated[list[HistoryTurn] | None, Field(max_length=MAX_HISTORY_TURNS)] = None

    @field_validator("question")
    @classmethod
    def _question_fits(cls, question: str, info: ValidationInfo) -> str:
        question = visible_text(question).strip()  # a question of zero-width characters is blank
        limit = (info.context or {}).get("max_question_chars", DEFAULT_MAX_QUESTION_CHARS)
        if not question:
            raise PydanticCustomError("question_blank", "问题不能为空")
        if len(question) > limit:
            raise PydanticCustomError("question_too_long", "问题太长：最多 {limit} 个字符", {"limit": limit})
        return question

    @field_validator("issue")
    @classmethod
    def _blank_issue_is_none(cls, issue: str | None) -> str | None:
        return (issue or "").strip() or None

    def turns(self) -> tuple[Turn, ...]:
        return tuple(Turn(question=turn.question, answer=turn.answer) for turn in self.history or ())


# Messages people read; pydantic's own English message is used for anything not listed.
_MESSAGES = {
    "json_invalid": "请求体不是合法的 JSON",
    "model_type": "{field} 必须是 JSON 对象",
    "missing": "缺少字段 {field}",
    "string_type": "{field} 必须是字符串",
    "int_type": "{field} 必须是整数",
    "greater_than_equal": "{field} 不能小于 {ge}",
    "less_than_equal": "{field} 不能大于 {le}",
    "literal_error": "{field} 只能取以下值之一：{expected}",
    "list_type": "{field} 必须是数组",
    "too_long": "{field} 最多 {max_length} 项",
    "string_too_short": "{field} 至少要有 {min_length} 个字符",
    "string_too_long": "{field} 最多 {max_length} 个字符",
    "float_type": "{field} 必须是数字",
    "bool_type": "{field} 必须是 true 或 false",
    "string_pattern_mismatch": "{field} 的格式不对",
}


def _describe(error: Any) -> str:
    field = ".".join(str(part) for part in error["loc"])
    template = _MESSAGES.get(error["type"])
    if not field:  # the body itself: Chinese words, no space after them ('请求体必须是 JSON 对象')
        field, template = "请求体", template and template.replace("{field} ", "{field}")
    context = dict(error.get("ctx", {}))
    if "expected" in context:  # pydantic's "'hybrid', 'dense' or 'keyword'"
        context["expected"] = re.sub(r",\s*|\s+or\s+", "、", str(context["expected"]))
    return template.format(field=field, **context) if template else error["msg"]


def validation_message(exc: ValidationError) -> str:
    """One line for people: each distinct problem once, in Chinese where we have the words."""
    return "；".join(dict.fromkeys(_describe(error) for error in exc.errors()))


def parse_ask_request(body: bytes, max_question_chars: int) -> AskRequest:
    """Validate a raw JSON body; raises BadQuestion (the question itself) or BadRequest."""
    return _validated(lambda context: AskRequest.model_validate_json(body, context=context), max_question_chars)


def validated_ask_request(fields: dict[str, Any], max_question_chars: int) -> AskRequest:
    """The same checks and messages for a request made of Python values (the command line)."""
    return _validated(lambda context: AskRequest.model_validate(fields, context=context), max_question_chars)


def _validated(validate, max_question_chars: int) -> AskRequest:
    try:
        return validate({"max_question_chars": max_question_chars})
    except ValidationError as exc:
        about_question = exc.errors()[0]["loc"][:1] == ("question",)
        raise (BadQuestion if about_question else BadRequest)(validation_message(exc)) from None


# ---- responses ---------------------------------------------------------------------------


class ResponseModel(BaseModel):
    """What the API sends: immutable once built."""

    model_config = ConfigDict(frozen=True)


class IssueRef(ResponseModel):
    id: str
    label: str
    source: str


class ArticleRef(ResponseModel):
    id: str
    title: str


class Citation(ResponseModel):
    issue: IssueRef
    article: ArticleRef
    passage: str
    start: int
    end: int
    score: float
    url: str = Field(description="Opens the article in the web page with the span highlighted.")
    ocr_confidence: float | None = Field(
        None, description="Set when the article was read by OCR from a scan: its mean recognition confidence "
        "(0–1). The quoted text may differ from the printed page; check the original.")

    @classmethod
    def of(cls, cited: schema.Citation, highlight: tuple[int, int] | None = None) -> "Citation":
        start, end = highlight or (cited.start, cited.end)
        return cls(
            ocr_confidence=cited.ocr_confidence,
            issue=IssueRef(id=cited.issue_id, label=cited.issue_label, source=cited.issue_source),
            article=ArticleRef(id=cited.article_id, title=cited.article_title),
            passage=cited.passage,
            start=cited.start,
            end=cited.end,
            score=cited.score,
            url=article_url(cited.article_id, start, end),
        )


class Highlight(ResponseModel):
    start: int
    end: int


class AnswerItem(ResponseModel):
    text: str
    start: int
    end: int
    url: str = Field(description="Opens the article with this item highlighted.")


class Answer(ResponseModel):
    text: str = Field(description="Verbatim from the article: the clause that holds the answer, or for an issue "
                      "question the issue label and title.")
    start: int
    end: int
    highlight: Highlight = Field(description="The answer slot inside the text (the asked figure, the names).")
    confidence: float = Field(description="Calibrated probability that the answer is right (measured by "
                              "leave-one-bulletin-out cross-validation), rounded down to 3 decimals; "
                              "confidence_words are read from this value.")
    confidence_words: str = Field(description="What that probability means: 把握高 only where the measured "
                                  "precision is ≥ 0.95, 把握较高 ≥ 0.85, 把握一般 ≥ 0.6, else 把握较低. Whether an "
                                  "answer is shown at all is decided by a second calibrated model (is the question "
                                  "answerable?), so a shown answer may carry 把握较低.")
    citation: Citation = Field(description="Its url highlights the answer span, not the whole passage.")
    supporting: list[Citation] = Field(description="Passages in other articles (e.g. another issue) that state "
                                       "the same fact.")
    items: list[AnswerItem] = Field(description="For a how-question about a whole article: the measures it "
                                    "enumerates, each verbatim; `text` is then these items joined by '；'.")

    @classmethod
    def of(cls, answer: schema.Answer) -> "Answer":
        if answer.text is None or answer.start is None or answer.end is None or answer.citation is None:
            raise ValueError("the engine returned a found answer without text, offsets or citation")
        highlight = Highlight(
            start=answer.start if answer.highlight_start is None else answer.highlight_start,
            end=answer.end if answer.highlight_end is None else answer.highlight_end,
        )
        return cls(
            text=answer.text,
            start=answer.start,
            end=answer.end,
            highlight=highlight,
            confidence=answer.confidence,
            confidence_words=answer.confidence_words,
            citation=Citation.of(answer.citation, (highlight.start, highlight.end)),
            supporting=[Citation.of(cited) for cited in answer.supporting],
            items=[AnswerItem(text=item.text, start=item.start, end=item.end,
                              url=article_url(answer.citation.article_id, item.start, item.end))
                   for item in answer.items],
        )


class PeriodNote(ResponseModel):
    asked: str = Field(description="The period the question named, e.g. 2023年.")
    stated: str = Field(description="The period the bulletins give the figure for, e.g. 2022年.")
    text: str = Field(description="That statement, verbatim.")
    citation: Citation

    @classmethod
    def of(cls, note: schema.PeriodNote) -> "PeriodNote":
        return cls(asked=note.asked, stated=note.stated, text=note.text, citation=Citation.of(note.citation))


class RelatedArticle(ResponseModel):
    issue: IssueRef
    article: ArticleRef
    url: str = Field(description="Opens the article in the web page.")

    @classmethod
    def of(cls, issue: schema.Issue, article: schema.Article) -> "RelatedArticle":
        return cls(
            issue=IssueRef(id=issue.id, label=issue.label, source=issue.source),
            article=ArticleRef(id=article.id, title=article.title),
            url=f"/articles/{quote(article.id, safe='/')}",
        )


class AskResponse(ResponseModel):
    question: str = Field(description="As asked (trimmed).")
    resolved_question: str | None = Field(
        description="How a follow-up was read with the history ('那宜昌呢？' → '宜昌…'); null when taken as asked."
    )
    found: bool
    message: str
    answer: Answer | None = Field(description="null when found is false; citations are still given.")
    other_period: PeriodNote | None = Field(
        description="When not found because the question names a period the bulletins do not give: the same "
        "metric for another period, with its source."
    )
    related: list[Citation] = Field(
        description="Other passages retrieval found (not stating the answer): 'see also', or the closest passages "
        "when not found."
    )
    citations: list[Citation] = Field(description="All of them in order: the answer's citation, the supporting "
                                      "ones, then the related ones.")
    related_articles: list[RelatedArticle] = Field(
        description="Up to 3 articles on the same topic in other issues than the answer's (empty when not found)."
    )
    mode: Literal["hybrid", "dense", "keyword"]
    build_id: str | None = Field(description="The index build that answered.")
    took_ms: float

    @classmethod
    def of(
        cls, answer: schema.Answer, mode: str, took_ms: float, related: Sequence[tuple[schema.Issue, schema.Article]] = ()
    ) -> "AskResponse":
        return cls(
            question=answer.question,
            resolved_question=answer.resolved_question,
            found=answer.found,
            message=answer.message,
            answer=Answer.of(answer) if answer.found else None,
            other_period=PeriodNote.of(answer.other_period) if answer.other_period else None,
            related=[Citation.of(cited) for cited in answer.related],
            citations=[Citation.of(cited) for cited in answer.citations],
            related_articles=[RelatedArticle.of(issue, article) for issue, article in related],
            mode=mode,
            build_id=answer.build_id,
            took_ms=round(took_ms, 1),
        )


def answer_question(engine: Engine, request: AskRequest) -> AskResponse:
    """Ask the engine and shape its answer: the one response both /api/ask and `qa ask --json` give."""
    started = time.perf_counter()
    answer = engine.ask(
        request.question, top_k=request.top_k, mode=request.mode, issue_id=request.issue, history=request.turns()
    )
    related = engine.related_articles(answer.citation.article_id) if answer.found and answer.citation else []
    return AskResponse.of(answer, request.mode, (time.perf_counter() - started) * 1000, related)


class ArticleSummary(ResponseModel):
    id: str
    title: str
    ordinal: int
    chars: int


class IssueSummary(IssueRef):
    articles: list[ArticleSummary]


class IssueList(ResponseModel):
    issues: list[IssueSummary]
    build_id: str | None = Field(None, description="The index build this list comes from. An answer whose build_id "
                                 "differs was given by a newer build (an issue was added or removed): the page reloads "
                                 "the list then.")

    @classmethod
    def of(cls, issues: list[schema.Issue], build_id: str | None = None) -> "IssueList":
        return cls(
            build_id=build_id,
            issues=[
                IssueSummary(
                    id=issue.id,
                    label=issue.label,
                    source=issue.source,
                    articles=[
                        ArticleSummary(id=a.id, title=a.title, ordinal=a.ordinal, chars=len(a.text))
                        for a in issue.articles
                    ],
                )
                for issue in issues
            ]
        )


class ArticleDetail(ResponseModel):
    id: str
    title: str
    ordinal: int
    issue: IssueRef
    text: str = Field(description="Citation and answer offsets point into this text.")
    author: str | None = Field(None, description="The byline under the title, when the bulletin prints one.")
    ocr_confidence: float | None = Field(None, description="Set when the text was read by OCR from a scan.")

    @classmethod
    def of(cls, issue: schema.Issue, article: schema.Article) -> "ArticleDetail":
        return cls(
            id=article.id,
            title=article.title,
            ordinal=article.ordinal,
            issue=IssueRef(id=issue.id, label=issue.label, source=issue.source),
            text=article.text,
            author=article.author,
            ocr_confidence=article.ocr_confidence,
        )


class Health(ResponseModel):
    status: Literal["ok", "degraded"] = Field(
        "ok", description="degraded: answering from an older build because the current one failed its checks, "
                          "or the files of the build being served no longer match its manifest on disk."
    )
    build_id: str = Field(description="The build being served.")
    model: str
    issues: int
    articles: int
    chunks: int
    built_at: str
    sentences: int = Field(description="Evidence units (sentences) the reader chooses from.")
    reader: str = Field(description="Version of the reader's trained weights (qa/reader/weights.json).")
    problem: str | None = Field(None, description="Set when degraded: which build is served and what is wrong.")

    @classmethod
    def of(cls, status: Status) -> "Health":
        return cls(**asdict(status), status="degraded" if status.problem else "ok")


class ErrorDetail(ResponseModel):
    code: str = Field(description="Stable, for programs: bad_question, not_found, index_not_ready …")
    message: str = Field(description="For people.")


class ErrorResponse(ResponseModel):
    error: ErrorDetail

    @classmethod
    def of(cls, code: str, message: str) -> "ErrorResponse":
        return cls(error=ErrorDetail(code=code, message=message))


class Unavailable(ErrorResponse):
    status: Literal["unavailable"] = "unavailable"
