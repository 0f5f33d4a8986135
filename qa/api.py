"""The HTTP API's schema: pydantic models for requests and responses, their conversion from
pipeline records, and the OpenAPI document generated from them."""

from __future__ import annotations

import json
from dataclasses import asdict
from datetime import datetime
from typing import Annotated, Any, Literal
from urllib.parse import quote, urlencode

from pydantic import BaseModel, ConfigDict, Field, ValidationError, ValidationInfo, WithJsonSchema, field_validator
from pydantic.json_schema import models_json_schema
from pydantic_core import PydanticCustomError
from werkzeug.datastructures import FileStorage, MultiDict

from . import schema
from .config import Settings
from .engine import Status, Turn
from .errors import BadQuestion, QAError
from .jobs import Job, UploadOutcome

DEFAULT_MAX_QUESTION_CHARS = Settings().max_question_chars
MAX_HISTORY_TURNS = 10


class BadRequest(QAError):
    code = "bad_request"
    http_status = 400


class UnsupportedMediaType(QAError):
    code = "unsupported_media_type"
    http_status = 415


class Unauthorized(QAError):
    code = "unauthorized"
    http_status = 401
    headers = {"WWW-Authenticate": 'Bearer realm="qa-admin"'}


class UploadTooLarge(QAError):
    code = "request_entity_too_large"  # the code Flask's own 413 gets, so clients see one code
    http_status = 413


def article_url(article_id: str, start: int, end: int) -> str:
    """Where the web page shows an article with [start, end) highlighted."""
    return f"/articles/{quote(article_id, safe='/')}?{urlencode({'start': start, 'end': end})}"


# ---- requests ----------------------------------------------------------------------------


class HistoryTurn(BaseModel):
    model_config = ConfigDict(strict=True, extra="ignore", frozen=True)

    question: str
    answer: str | None = None


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
        question = question.strip()
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
}


def _describe(error: Any) -> str:
    field = ".".join(str(part) for part in error["loc"]) or "请求体"
    template = _MESSAGES.get(error["type"])
    return template.format(field=field, **error.get("ctx", {})) if template else error["msg"]


def parse_ask_request(body: bytes, max_question_chars: int) -> AskRequest:
    """Validate a raw JSON body; raises BadQuestion (the question itself) or BadRequest."""
    try:
        return AskRequest.model_validate_json(body, context={"max_question_chars": max_question_chars})
    except ValidationError as exc:
        errors = exc.errors()
        message = "；".join(dict.fromkeys(_describe(error) for error in errors))
        about_question = errors[0]["loc"][:1] == ("question",)
        raise (BadQuestion if about_question else BadRequest)(message) from None


MAX_LABEL_CHARS = 40
_LABEL_FORBIDDEN = frozenset("/\\") | {chr(code) for code in (*range(32), 127)}
_UploadedFile = Annotated[
    FileStorage, WithJsonSchema({"type": "string", "format": "binary", "contentMediaType": "application/octet-stream"})
]


class UploadForm(BaseModel):
    """A bulletin upload (multipart/form-data)."""

    model_config = ConfigDict(arbitrary_types_allowed=True, frozen=True)

    file: _UploadedFile = Field(description="The bulletin: .txt, .md, .pdf or .docx (the name's suffix decides).")
    label: str | None = Field(
        None,
        description="Issue label such as 2024年第3期, for files without one in their header. Trimmed; blank means none.",
        json_schema_extra={"maxLength": MAX_LABEL_CHARS, "pattern": r"^[^/\\]*$"},
    )

    @field_validator("label")
    @classmethod
    def _label_is_plain(cls, label: str | None) -> str | None:
        label = (label or "").strip()
        if len(label) > MAX_LABEL_CHARS:
            raise PydanticCustomError("label_too_long", "label 最多 {limit} 个字符", {"limit": MAX_LABEL_CHARS})
        if any(char in _LABEL_FORBIDDEN for char in label):
            raise PydanticCustomError("label_chars", "label 不能含斜杠、反斜杠或控制字符")
        return label or None


def parse_upload_form(files: MultiDict, form: MultiDict) -> UploadForm:
    """Validate a parsed multipart body; raises BadRequest."""
    upload = files.get("file")
    if upload is None or not upload.filename:
        raise BadRequest("缺少文件：请在 multipart 字段 file 中上传简报文件")
    try:
        return UploadForm.model_validate({"file": upload, "label": form.get("label")})
    except ValidationError as exc:
        raise BadRequest("；".join(dict.fromkeys(_describe(error) for error in exc.errors()))) from None


# ---- responses ---------------------------------------------------------------------------


class _Out(BaseModel):
    model_config = ConfigDict(frozen=True)


class IssueRef(_Out):
    id: str
    label: str
    source: str


class ArticleRef(_Out):
    id: str
    title: str


class Citation(_Out):
    issue: IssueRef
    article: ArticleRef
    passage: str
    start: int
    end: int
    score: float
    url: str = Field(description="Opens the article in the web page with the span highlighted.")

    @classmethod
    def of(cls, cited: schema.Citation, highlight: tuple[int, int] | None = None) -> "Citation":
        start, end = highlight or (cited.start, cited.end)
        return cls(
            issue=IssueRef(id=cited.issue_id, label=cited.issue_label, source=cited.issue_source),
            article=ArticleRef(id=cited.article_id, title=cited.article_title),
            passage=cited.passage,
            start=cited.start,
            end=cited.end,
            score=cited.score,
            url=article_url(cited.article_id, start, end),
        )


class Highlight(_Out):
    start: int
    end: int


class Answer(_Out):
    text: str
    start: int
    end: int
    highlight: Highlight
    confidence: float
    citation: Citation = Field(description="Its url highlights the answer span, not the whole passage.")

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
            citation=Citation.of(answer.citation, (highlight.start, highlight.end)),
        )


class AskResponse(_Out):
    question: str
    found: bool
    message: str
    answer: Answer | None = Field(description="null when found is false; citations are still given.")
    citations: list[Citation]
    mode: Literal["hybrid", "dense", "keyword"]
    took_ms: float

    @classmethod
    def of(cls, answer: schema.Answer, mode: str, took_ms: float) -> "AskResponse":
        return cls(
            question=answer.question,
            found=answer.found,
            message=answer.message,
            answer=Answer.of(answer) if answer.found else None,
            citations=[Citation.of(cited) for cited in answer.citations],
            mode=mode,
            took_ms=round(took_ms, 1),
        )


class ArticleSummary(_Out):
    id: str
    title: str
    ordinal: int
    chars: int


class IssueSummary(IssueRef):
    articles: list[ArticleSummary]


class IssueList(_Out):
    issues: list[IssueSummary]

    @classmethod
    def of(cls, issues: list[schema.Issue]) -> "IssueList":
        return cls(
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


class ArticleDetail(_Out):
    id: str
    title: str
    ordinal: int
    issue: IssueRef
    text: str = Field(description="Citation and answer offsets point into this text.")

    @classmethod
    def of(cls, issue: schema.Issue, article: schema.Article) -> "ArticleDetail":
        return cls(
            id=article.id,
            title=article.title,
            ordinal=article.ordinal,
            issue=IssueRef(id=issue.id, label=issue.label, source=issue.source),
            text=article.text,
        )


class Health(_Out):
    status: Literal["ok"] = "ok"
    build_id: str
    model: str
    issues: int
    articles: int
    chunks: int
    built_at: str

    @classmethod
    def of(cls, status: Status) -> "Health":
        return cls(**asdict(status))


class ErrorDetail(_Out):
    code: str = Field(description="Stable, for programs: bad_question, not_found, index_not_ready …")
    message: str = Field(description="For people.")


class ErrorResponse(_Out):
    error: ErrorDetail

    @classmethod
    def of(cls, code: str, message: str) -> "ErrorResponse":
        return cls(error=ErrorDetail(code=code, message=message))


class Unavailable(ErrorResponse):
    status: Literal["unavailable"] = "unavailable"


class JobResult(_Out):
    added: bool = Field(description="false when the same content was already in the index (nothing changed).")
    message: str
    build_id: str = Field(description="The index build serving once the job finished.")
    issue: IssueRef | None = Field(description="The issue as indexed; its id is what /api/ask's issue filter takes.")
    articles: int | None

    @classmethod
    def of(cls, outcome: UploadOutcome) -> "JobResult":
        issue = outcome.issue
        return cls(
            added=outcome.added,
            message=outcome.message,
            build_id=outcome.build_id,
            issue=IssueRef(id=issue.id, label=issue.label, source=issue.source) if issue else None,
            articles=len(issue.articles) if issue else None,
        )


class JobStatus(_Out):
    id: str
    status: Literal["queued", "running", "done", "failed"]
    url: str = Field(description="Poll this (with the same bearer token) until status is done or failed.")
    file: str = Field(description="The uploaded file's name as the client sent it; for messages only.")
    created_at: datetime
    started_at: datetime | None
    finished_at: datetime | None
    result: JobResult | None = Field(description="Set when status is done.")
    error: str | None = Field(description="Set when status is failed: why, e.g. the file could not be parsed.")

    @classmethod
    def of(cls, job: Job) -> "JobStatus":
        return cls(
            id=job.id,
            status=job.status,
            url=job_url(job.id),
            file=job.description,
            created_at=job.created_at,
            started_at=job.started_at,
            finished_at=job.finished_at,
            result=JobResult.of(job.result) if isinstance(job.result, UploadOutcome) else None,
            error=job.error,
        )


class JobResponse(_Out):
    job: JobStatus

    @classmethod
    def of(cls, job: Job) -> "JobResponse":
        return cls(job=JobStatus.of(job))


def job_url(job_id: str) -> str:
    return f"/api/jobs/{quote(job_id, safe='')}"


# ---- OpenAPI -----------------------------------------------------------------------------

BASE_URL = "http://127.0.0.1:8000"  # what the curl examples assume; /api/docs shows the real host
ASK_EXAMPLE = {"question": "温州国家自创区如何打造民营经济创新高地？", "top_k": 3, "mode": "hybrid"}
_ERRORS = {
    400: "问题或请求体不合法（bad_question / bad_request）",
    404: "期次或文章不存在（not_found）",
    415: "请求体没有以 application/json 发送（unsupported_media_type）",
    500: "服务器内部错误，详情只写入服务器日志（internal）",
    503: "索引尚未就绪，请先运行 qa build（index_not_ready）",
}
_ASK_DESCRIPTION = (
    "question 必填，去掉首尾空白后 1–{limit} 字；top_k 为 1–20 的整数（默认 5）；mode 取 hybrid、dense 或 keyword；"
    "issue 为期次 id（如 2022-10），省略或留空表示全部期次；history 为之前的问答，最多 10 轮。"
    "找不到答案时 found 为 false、answer 为 null，citations 仍列出最相关的段落。"
)


def _operation(
    summary: str, curl: str, ok: Any, errors: dict[int, Any], media: str = "application/json", **extra: Any
) -> dict[str, Any]:
    responses = {"200": {"description": "OK", "content": {media: {"schema": ok}}}}
    for status, error_schema in errors.items():
        content = {"application/json": {"schema": error_schema}}
        responses[str(status)] = {"description": _ERRORS[status], "content": content}
    samples = [{"lang": "Shell", "source": curl}]  # the x-codeSamples convention; /api/docs shows them
    return {"summary": summary, "responses": responses, "x-codeSamples": samples, **extra}


def openapi_document(
    max_question_chars: int = DEFAULT_MAX_QUESTION_CHARS, upload_bytes: int | None = None
) -> dict[str, Any]:
    """OpenAPI 3.1 for every endpoint; the component schemas are generated from the models above.

    `upload_bytes` is the upload limit when uploads are enabled; None leaves them out, as the
    server then answers 404 there.
    """
    responses = (AskResponse, IssueList, ArticleDetail, Health, Unavailable, ErrorResponse)
    if upload_bytes is not None:
        responses += (JobResponse,)
    requests = [AskRequest, *((UploadForm,) if upload_bytes is not None else ())]
    models = [*((model, "validation") for model in requests), *((model, "serialization") for model in responses)]
    refs, definitions = models_json_schema(models, ref_template="#/components/schemas/{model}")
    ref = {model.__name__: refs[(model, mode)] for model, mode in models}
    schemas = definitions["$defs"]
    # The limit is a setting, so the model only knows it at validation time (through the context).
    schemas["AskRequest"]["properties"]["question"]["maxLength"] = max_question_chars

    def failing(*statuses: int) -> dict[int, Any]:
        return dict.fromkeys(statuses, ref["ErrorResponse"])

    ask_body = {"required": True, "content": {"application/json": {"schema": ref["AskRequest"], "example": ASK_EXAMPLE}}}
    ask_description = _ASK_DESCRIPTION.format(limit=max_question_chars)
    ask_curl = (
        f"curl -s -X POST {BASE_URL}/api/ask -H 'Content-Type: application/json' "
        f"-d '{json.dumps(ASK_EXAMPLE, ensure_ascii=False)}'"
    )
    article_id = {
        "name": "article_id", "in": "path", "required": True, "schema": {"type": "string"},
        "description": "文章 id：期次 id/序号，如 2022-10/02（斜杠是 id 的一部分）",
    }  # fmt: skip
    paths = {
        "/api/ask": {"post": _operation(
            "提问：返回摘自原文的答案及其出处", ask_curl,
            ref["AskResponse"], failing(400, 404, 415, 500, 503), requestBody=ask_body, description=ask_description,
        )},
        "/api/issues": {"get": _operation(
            "全部期次及其文章目录", f"curl -s {BASE_URL}/api/issues",
            ref["IssueList"], failing(500, 503),
        )},
        "/api/articles/{article_id}": {"get": _operation(
            "一篇文章的全文（答案与引文的偏移量指向其中）", f"curl -s {BASE_URL}/api/articles/2022-10/02",
            ref["ArticleDetail"], failing(404, 500, 503), parameters=[article_id],
        )},
        "/healthz": {"get": _operation(
            "服务状态：当前使用的索引版本", f"curl -s {BASE_URL}/healthz",
            ref["Health"], {503: ref["Unavailable"]},
        )},
        "/openapi.json": {"get": _operation(
            "本 API 的 OpenAPI 3.1 描述", f"curl -s {BASE_URL}/openapi.json", {"type": "object"}, {},
        )},
        "/api/docs": {"get": _operation(
            "接口一览（网页）与 curl 示例", f"curl -s {BASE_URL}/api/docs", {"type": "string"}, {}, "text/html",
        )},
    }  # fmt: skip
    components: dict[str, Any] = {"schemas": schemas}
    if upload_bytes is not None:
        _add_upload_paths(paths, ref, upload_bytes)
        components["securitySchemes"] = {ADMIN_SCHEME: {
            "type": "http", "scheme": "bearer", "description": "The server's QA_ADMIN_TOKEN.",
        }}  # fmt: skip
    return {
        "openapi": "3.1.0",
        "info": {
            "title": "科技情报参考 问答 API",
            "version": "1.0.0",
            "description": "就《科技情报参考》提问，答案逐字摘自原文并注明期次与文章出处。",
        },
        "paths": paths,
        "components": components,
    }


ADMIN_SCHEME = "adminToken"
UPLOAD_EXAMPLE_CURL = (
    f'curl -s -H "Authorization: Bearer $QA_ADMIN_TOKEN" -F file=@bulletin.pdf -F label=2024年第3期 {BASE_URL}/api/issues'
)
JOB_EXAMPLE_CURL = f'curl -s -H "Authorization: Bearer $QA_ADMIN_TOKEN" {BASE_URL}/api/jobs/<job_id>'
_UPLOAD_DESCRIPTION = (
    "需要管理员令牌（服务器设置 QA_ADMIN_TOKEN 后才开启，否则 404）。以 multipart/form-data 上传：file 为简报文件"
    "（.txt、.md、.pdf、.docx，按文件名后缀判断），label 可选（如 2024年第3期，最多 {label} 字，不含斜杠）。"
    "整个请求体最多 {mb} MB。文件在后台解析并加入索引，立即返回 202 和任务地址；轮询 GET /api/jobs/{{job_id}} "
    "直到 status 为 done（result 给出期次 id）或 failed（error 说明原因，索引不变）。内容相同的文件不会重复加入。"
)


def _add_upload_paths(paths: dict[str, Any], ref: dict[str, Any], upload_bytes: int) -> None:
    error = {"content": {"application/json": {"schema": ref["ErrorResponse"]}}}
    unauthorized = {
        "description": "缺少或错误的管理员令牌（unauthorized）",
        "headers": {"WWW-Authenticate": {"schema": {"type": "string"}, "description": 'Bearer realm="qa-admin"'}},
        **error,
    }
    job_ok = {"content": {"application/json": {"schema": ref["JobResponse"]}}}
    upload_body = {"required": True, "content": {"multipart/form-data": {
        "schema": ref["UploadForm"], "encoding": {"file": {"contentType": "application/octet-stream"}},
    }}}  # fmt: skip
    paths["/api/issues"]["post"] = {
        "summary": "上传一期简报（管理员），在后台加入索引",
        "description": _UPLOAD_DESCRIPTION.format(label=MAX_LABEL_CHARS, mb=upload_bytes // 2**20),
        "security": [{ADMIN_SCHEME: []}],
        "requestBody": upload_body,
        "responses": {
            "202": {"description": "已接收，任务排队中", **job_ok},
            "400": {"description": "缺少 file 字段，或 label 不合法（bad_request）", **error},
            "401": unauthorized,
            "404": {"description": "本服务器未开启上传：没有设置 QA_ADMIN_TOKEN（not_found）", **error},
            "413": {"description": f"请求体超过 {upload_bytes // 2**20} MB（request_entity_too_large）", **error},
            "415": {"description": "不是 multipart/form-data，或文件类型不受支持（unsupported_media_type）", **error},
            "500": {"description": _ERRORS[500], **error},
            "503": {"description": "嵌入模型无法加载（model_unavailable）", **error},
        },
        "x-codeSamples": [{"lang": "Shell", "source": UPLOAD_EXAMPLE_CURL}],
    }
    job_id = {"name": "job_id", "in": "path", "required": True, "schema": {"type": "string"},
              "description": "上传时返回的任务 id"}  # fmt: skip
    paths["/api/jobs/{job_id}"] = {"get": {
        "summary": "上传任务的状态与结果（管理员）",
        "security": [{ADMIN_SCHEME: []}],
        "parameters": [job_id],
        "responses": {
            "200": {"description": "OK", **job_ok},
            "401": unauthorized,
            "404": {"description": "没有这个任务（服务器重启后任务记录不保留），或未开启上传（not_found）", **error},
            "500": {"description": _ERRORS[500], **error},
        },
        "x-codeSamples": [{"lang": "Shell", "source": JOB_EXAMPLE_CURL}],
    }}
