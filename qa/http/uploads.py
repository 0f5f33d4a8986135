"""Adding bulletins over HTTP: POST /api/issues takes a file from an admin and queues it for
the index; GET /api/jobs/<id> reports how that went (job records are kept in SQLite, so this works
after a restart). Routes, their request/response models, and the queue's start (`start_jobs`).

The routes are always there; they answer 404 until the server has QA_ADMIN_TOKEN set.
"""

from __future__ import annotations

import hmac
import logging
import sqlite3
from datetime import datetime
from pathlib import Path
from typing import Annotated, Literal
from urllib.parse import quote

from flask import Blueprint, Response, current_app, request
from pydantic import BaseModel, ConfigDict, Field, ValidationError, WithJsonSchema, field_validator
from pydantic_core import PydanticCustomError
from werkzeug.datastructures import FileStorage, MultiDict
from werkzeug.exceptions import RequestEntityTooLarge

from .. import seeds, store, transaction
from ..corpus import issue_id_for
from ..errors import (
    BadRequest, IssueTaken, ModelUnavailable, NotFound, StorageError, Unauthorized, UnsupportedMediaType,
    UploadTooLarge, shown,
)  # fmt: skip
from ..ingest import SUPPORTED_SUFFIXES
from ..intake import JOB_KIND, save_upload, sweep_uploads, upload_runner, upload_suffix
from ..jobs import Job, JobQueue
from .context import current_engine, current_settings, json_response
from .models import IssueRef, ResponseModel, validation_message
from .routing import Endpoint, Param, endpoint

logger = logging.getLogger(__name__)

MAX_UPLOAD_BYTES = 20 * 1024 * 1024
"""Whole request body of POST /api/issues (the file plus multipart framing); every other route keeps
the app-wide cap. Bulletins are a few MB; uploads are spooled to a temp file, not held in memory."""


# ---- models ----------------------------------------------------------------------------

MAX_LABEL_CHARS = seeds.MAX_LABEL_CHARS
_LABEL_MESSAGES = {
    "too_long": ("label_too_long", "label 最多 {limit} 个字符"),
    "forbidden_chars": ("label_chars", "label 不能含斜杠、反斜杠或控制字符"),
    "not_utf8": ("label_encoding", "label 不是有效的 UTF-8 文本"),
}
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

    replace: str | None = Field(
        None,
        description="The id of an issue this file replaces (e.g. 2022-10). Without it, a file whose issue id is "
        "already taken is refused: 409 at once for a taken label, a failed job (error_code issue_taken) for a "
        "taken header.",
        json_schema_extra={"maxLength": 80, "pattern": r"^[0-9a-z][0-9a-z-]*$"},
    )

    @field_validator("label")
    @classmethod
    def _label_is_plain(cls, label: str | None) -> str | None:
        label = (label or "").strip()
        problem = seeds.label_problem(label)
        if problem:
            code, message = _LABEL_MESSAGES[problem]
            raise PydanticCustomError(code, message, {"limit": MAX_LABEL_CHARS})
        return label or None

    @field_validator("replace")
    @classmethod
    def _replace_is_an_id(cls, replace: str | None) -> str | None:
        replace = (replace or "").strip()
        if replace and not seeds.ISSUE_ID_RE.fullmatch(replace):
            raise PydanticCustomError("replace_id", "replace 应为期次 id，如 2022-10")
        return replace or None


def parse_upload_form(files: MultiDict, form: MultiDict) -> UploadForm:
    """Validate a parsed multipart body; raises BadRequest."""
    upload = files.get("file")
    if upload is None or not upload.filename:
        raise BadRequest("缺少文件：请在 multipart 字段 file 中上传简报文件")
    try:
        return UploadForm.model_validate({"file": upload, "label": form.get("label"), "replace": form.get("replace")})
    except ValidationError as exc:
        raise BadRequest(validation_message(exc)) from None


class JobResult(ResponseModel):
    added: bool = Field(description="false when the same content was already in the index (nothing changed).")
    message: str
    build_id: str = Field(description="The index build serving once the job finished.")
    issue: IssueRef | None = Field(description="The issue as indexed; its id is what /api/ask's issue filter takes.")
    articles: int | None


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
    error_code: str | None = Field(
        None, description="Set when failed: bad_bulletin, issue_taken, build_locked, storage_unavailable, "
        "interrupted (stopped by restarts), internal …"
    )

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
            result=JobResult.model_validate(job.result) if job.status == "done" and job.result else None,
            error=job.error,
            error_code=job.error_code,
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
    "直到 status 为 done（result 给出期次 id）或 failed（error 说明原因，error_code 给出代码，索引不变）。"
    "内容相同的文件不会重复加入。期次 id 一经分配不再改变：期号已被占用的文件被拒绝（label 已占用时立即 409，"
    "文件头里的期号已占用时任务失败，error_code 为 issue_taken），除非提交 replace=期次 id 明确替换那一期。"
    "文件先在一个有时间和内存上限的子进程里读取。任务记录保存在服务器的 SQLite 中，重启后仍可查询；"
    "重启打断的任务会重新执行。"
).format(label=MAX_LABEL_CHARS, mb=MAX_UPLOAD_BYTES / 2**20)


@endpoint(blueprint, "POST", "/api/issues", Endpoint(
    summary="上传一期简报（管理员），在后台加入索引", tag="管理", response=JobResponse, status=202,
    body=UploadForm, body_media="multipart/form-data", admin=True, description=_UPLOAD_DESCRIPTION,
    errors=(BadRequest, Unauthorized, NotFound, IssueTaken, UploadTooLarge, UnsupportedMediaType, ModelUnavailable,
            StorageError),
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
    if getattr(current_engine(), "embedder", None) is None:
        raise ModelUnavailable("这个服务器的引擎没有嵌入模型，不能加入简报；请在命令行运行 qa add")
    if form.label and not form.replace:
        _refuse_taken_label(settings.seeds_dir, form.label)
    if form.replace:
        transaction.check_replaceable(settings.seeds_dir, form.replace)  # 404 at once, not a failed job later
    saved = save_upload(form.file.stream, settings, client_name, suffix)
    logger.info("上传的 %r 已保存为 %s", client_name, saved)
    job = jobs.submit(JOB_KIND, {"file": str(saved), "label": form.label, "replace": form.replace}, client_name)
    return json_response(JobResponse.of(job), 202)


def _refuse_taken_label(seeds_dir: Path, label: str) -> None:
    """409 at once when the form's label names a numbered issue another file already is."""
    if not seeds.is_numbered(label):
        return
    wanted = issue_id_for(label, "")
    registry = seeds.read_registry(seeds_dir)
    owner = next((name for name, entry in registry.items() if entry.id == wanted and (seeds_dir / name).exists()), None)
    if owner is not None:
        raise IssueTaken(f"{label}（期次 id {wanted}）已在索引中（{owner}）；如要替换这一期，请同时提交 replace={wanted}")


@endpoint(blueprint, "GET", "/api/jobs/<job_id>", Endpoint(
    summary="上传任务的状态与结果（管理员）", tag="管理", response=JobResponse, admin=True,
    errors=(Unauthorized, NotFound, StorageError),
    params={"job_id": Param("上传时返回的任务 id", "3f2c9a0e5b7d4c1e8a6f2b9d0c3e7a15")},
    curl='curl -s -H "Authorization: Bearer $QA_ADMIN_TOKEN" {base}/api/jobs/<job_id>',
))  # fmt: skip
def job_status(job_id: str) -> Response:
    job = _admin_jobs().status(job_id)
    if job is None:
        raise NotFound(f"没有这个任务：{shown(job_id)}（只保留最近 500 个已结束的任务）")
    return json_response(JobResponse.of(job))


def _admin_jobs() -> JobQueue:
    """The job queue, once uploads are on (else 404) and the bearer token matches (else 401)."""
    token = current_settings().admin_token
    if token is None:
        raise NotFound("本服务器未开启上传：设置环境变量 QA_ADMIN_TOKEN 后重启服务即可启用")
    scheme, _, given = request.headers.get("Authorization", "").partition(" ")
    if scheme.lower() != "bearer" or not hmac.compare_digest(given.strip().encode(), token.encode()):
        raise Unauthorized("需要管理员令牌：请求头 Authorization: Bearer <QA_ADMIN_TOKEN>")
    jobs = current_app.extensions.get("qa_jobs")
    if jobs is None:
        problem = current_app.extensions.get("qa_jobs_problem", "")
        raise StorageError(f"上传暂不可用：服务器无法打开任务数据库（{problem}）", problem)
    return jobs


def start_jobs(app, settings) -> None:
    """Open the job database and start the queue, resuming jobs a restart interrupted. A database
    that cannot be opened leaves uploads answering 503 with the reason; questions are unaffected."""
    try:
        connection = store.connect(settings.index_dir)
    except (sqlite3.Error, OSError) as exc:
        reason = getattr(exc, "strerror", None) or str(exc)
        logger.error("上传不可用：无法打开 %s：%s", store.db_path(settings.index_dir), reason)
        app.extensions["qa_jobs_problem"] = reason
        return

    def run_upload(job: Job) -> dict:
        engine = app.extensions["qa"].get()
        embedder = getattr(engine, "embedder", None)
        if embedder is None:
            raise ModelUnavailable("这个服务器的引擎没有嵌入模型，不能加入简报；请在命令行运行 qa add")
        return upload_runner(settings, embedder, engine.issues)(job)

    jobs = JobQueue(connection, {JOB_KIND: run_upload})
    sweep_uploads(settings, {Path(job.params["file"]) for job in jobs.active(JOB_KIND)})
    app.extensions["qa_jobs"] = jobs
