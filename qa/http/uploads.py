"""Adding bulletins over HTTP: POST /api/issues takes a file from an admin and queues it for
the index; GET /api/jobs/<id> reports how that went. Routes and their request/response models.

The routes are always there; they answer 404 until the server has QA_ADMIN_TOKEN set.
"""

from __future__ import annotations

import hmac
import logging
from datetime import datetime
from functools import partial
from typing import Annotated, Literal
from urllib.parse import quote

from flask import Blueprint, Response, current_app, request
from pydantic import BaseModel, ConfigDict, Field, ValidationError, WithJsonSchema, field_validator
from pydantic_core import PydanticCustomError
from werkzeug.datastructures import FileStorage, MultiDict
from werkzeug.exceptions import RequestEntityTooLarge

from ..errors import BadRequest, ModelUnavailable, NotFound, Unauthorized, UnsupportedMediaType, UploadTooLarge
from ..ingest import SUPPORTED_SUFFIXES
from ..jobs import Job, JobQueue, UploadOutcome, add_uploaded_bulletin, save_upload, upload_suffix
from .context import current_engine, current_settings, json_response
from .models import IssueRef, ResponseModel, validation_message
from .routing import Endpoint, Param, endpoint

logger = logging.getLogger(__name__)

MAX_UPLOAD_BYTES = 20 * 1024 * 1024
"""Whole request body of POST /api/issues (the file plus multipart framing); every other route keeps
the app-wide cap. Bulletins are a few MB; uploads are spooled to a temp file, not held in memory."""


# ---- models ----------------------------------------------------------------------------

MAX_LABEL_CHARS = 40
_LABEL_FORBIDDEN = frozenset("/\\") | {chr(code) for code in (*range(32), 127)}
_UploadedFile = Annotated[
    FileStorage, WithJsonSchema({"type": "string", "format": "binary", "contentMediaType": "application/octet-stream"})
]


class UploadForm(BaseModel):
    """A bulletin upload (multipart/form-data)."""

    model_config = ConfigDict(arbitrary_types_allowed=True, frozen=True)

    file: _UploadedFile = Field(description="The bulletin: .txt, .md, .pdf (text or scanned), .docx, or a page image "
                                             ".png/.jpg (the name's suffix decides).")
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
        raise BadRequest(validation_message(exc)) from None


class JobResult(ResponseModel):
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


class JobStatus(ResponseModel):
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


class JobResponse(ResponseModel):
    job: JobStatus

    @classmethod
    def of(cls, job: Job) -> "JobResponse":
        return cls(job=JobStatus.of(job))


def job_url(job_id: str) -> str:
    return f"/api/jobs/{quote(job_id, safe='')}"


# ---- routes ----------------------------------------------------------------------------

blueprint = Blueprint("uploads", __name__)
_UPLOAD_DESCRIPTION = (
    "需要管理员令牌（服务器设置 QA_ADMIN_TOKEN 后才开启，否则 404）。以 multipart/form-data 上传：file 为简报文件"
    "（.txt、.md、.pdf（文字版或扫描件）、.docx、.png/.jpg 页面图片，按文件名后缀判断），label 可选（如 2024年第3期，最多 {label} 字，不含斜杠）。"
    "整个请求体最多 {mb:g} MB。文件在后台解析并加入索引，立即返回 202 和任务地址；轮询 GET /api/jobs/{{job_id}} "
    "直到 status 为 done（result 给出期次 id）或 failed（error 说明原因，索引不变）。内容相同的文件不会重复加入。"
).format(label=MAX_LABEL_CHARS, mb=MAX_UPLOAD_BYTES / 2**20)


@endpoint(blueprint, "POST", "/api/issues", Endpoint(
    summary="上传一期简报（管理员），在后台加入索引", tag="管理", response=JobResponse, status=202,
    body=UploadForm, body_media="multipart/form-data", admin=True, description=_UPLOAD_DESCRIPTION,
    errors=(BadRequest, Unauthorized, NotFound, UploadTooLarge, UnsupportedMediaType, ModelUnavailable),
    curl='curl -s -H "Authorization: Bearer $QA_ADMIN_TOKEN" -F file=@bulletin.pdf -F label=2024年第3期 {base}/api/issues',
))  # fmt: skip
def upload_issue() -> Response:
    """Save an uploaded bulletin under a generated name and add it to the index in the background."""
    jobs = _admin_jobs()
    if request.mimetype != "multipart/form-data":
        raise UnsupportedMediaType("请以 multipart/form-data 上传，文件放在 file 字段")
    request.max_content_length = MAX_UPLOAD_BYTES  # this route only; the app-wide cap stays MAX_BODY_BYTES
    try:
        form = parse_upload_form(request.files, request.form)
    except RequestEntityTooLarge:
        raise UploadTooLarge(f"文件太大：请求体最多 {MAX_UPLOAD_BYTES / 2**20:g} MB") from None
    client_name = form.file.filename or ""
    suffix = upload_suffix(client_name)
    if suffix is None:
        raise UnsupportedMediaType(f"不支持的文件类型：只接受 {'、'.join(SUPPORTED_SUFFIXES)}")
    settings = current_settings()
    engine = current_engine()
    embedder = getattr(engine, "embedder", None)
    if embedder is None:
        raise ModelUnavailable("这个服务器的引擎没有嵌入模型，不能加入简报；请在命令行运行 qa add")
    saved = save_upload(form.file.stream, settings, client_name, suffix)
    logger.info("upload %r saved as %s", client_name, saved)
    work = partial(add_uploaded_bulletin, settings, embedder, saved, form.label, engine.issues)
    job_id = jobs.submit(work, client_name)
    return json_response(JobResponse.of(jobs.status(job_id)), 202)


@endpoint(blueprint, "GET", "/api/jobs/<job_id>", Endpoint(
    summary="上传任务的状态与结果（管理员）", tag="管理", response=JobResponse, admin=True,
    errors=(Unauthorized, NotFound), params={"job_id": Param("上传时返回的任务 id", "3f2c9a0e5b7d4c1e8a6f2b9d0c3e7a15")},
    curl='curl -s -H "Authorization: Bearer $QA_ADMIN_TOKEN" {base}/api/jobs/<job_id>',
))  # fmt: skip
def job_status(job_id: str) -> Response:
    job = _admin_jobs().status(job_id)
    if job is None:
        raise NotFound(f"没有这个任务：{job_id}（任务记录只保存在内存中，服务器重启后不再保留）")
    return json_response(JobResponse.of(job))


def _admin_jobs() -> JobQueue:
    """The job queue, once uploads are on (else 404) and the bearer token matches (else 401)."""
    token = current_settings().admin_token
    jobs = current_app.extensions.get("qa_jobs")
    if token is None or jobs is None:
        raise NotFound("本服务器未开启上传：设置环境变量 QA_ADMIN_TOKEN 后重启服务即可启用")
    scheme, _, given = request.headers.get("Authorization", "").partition(" ")
    if scheme.lower() != "bearer" or not hmac.compare_digest(given.strip().encode(), token.encode()):
        raise Unauthorized("需要管理员令牌：请求头 Authorization: Bearer <QA_ADMIN_TOKEN>")
    return jobs
