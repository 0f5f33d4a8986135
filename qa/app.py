"""The web app: a JSON API over one Engine, the web page from web/, and `serve()`.

Requests are validated here (qa.api models) and errors always leave as JSON
`{"error": {"code", "message"}}`; the engine behind is trusted.
"""

from __future__ import annotations

import hmac
import json
import logging
import threading
import time
from functools import partial
from pathlib import Path
from typing import Any

from flask import Blueprint, Flask, Response, current_app, request, send_from_directory
from markupsafe import Markup, escape
from pydantic import BaseModel
from werkzeug.exceptions import HTTPException, RequestEntityTooLarge

import qa

from .api import (
    BASE_URL,
    ArticleDetail,
    AskResponse,
    ErrorResponse,
    Health,
    IssueList,
    JobResponse,
    Unauthorized,
    Unavailable,
    UnsupportedMediaType,
    UploadTooLarge,
    openapi_document,
    parse_ask_request,
    parse_upload_form,
)
from .config import Settings
from .engine import Engine
from .errors import ModelUnavailable, NotFound, QAError
from .jobs import JobQueue, add_uploaded_bulletin, save_upload, upload_suffix

logger = logging.getLogger(__name__)

SECURITY_HEADERS = {
    "Content-Security-Policy": (
        "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
        "connect-src 'self'; object-src 'none'; base-uri 'none'; frame-ancestors 'none'; form-action 'self'"
    ),
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "no-referrer",
}
MAX_BODY_BYTES = 256 * 1024  # ten turns of history fit many times over
MAX_UPLOAD_BYTES = 20 * 1024 * 1024
"""Whole request body of POST /api/issues (the file plus multipart framing); every other route keeps
MAX_BODY_BYTES. Bulletins are a few MB; uploads are spooled to a temp file, not held in memory."""
_HTTP_MESSAGES = {
    404: "没有这个地址",
    405: "这个地址不支持该请求方法",
    413: "请求体太大",
}


class EngineSlot:
    """The app's one engine: the one given, or opened on first use so the app can start
    (and answer 503) before any index exists. A failed open is retried on the next request."""

    def __init__(self, settings: Settings, engine: Engine | None):
        self.settings = settings
        self._engine = engine
        self._lock = threading.Lock()

    def get(self) -> Engine:
        if self._engine is None:
            with self._lock:
                if self._engine is None:
                    from .engine import open_engine

                    self._engine = open_engine(self.settings)
        return self._engine


def create_app(settings: Settings | None = None, engine: Engine | None = None) -> Flask:
    settings = settings or Settings.load()
    app = Flask(__name__, static_folder=None)
    app.config.update(
        WEB_DIR=Path(qa.__file__).resolve().parent.parent / "web",
        MAX_CONTENT_LENGTH=MAX_BODY_BYTES,
        LOG_REQUESTS=False,
    )
    app.extensions["qa"] = EngineSlot(settings, engine)
    uploads = settings.admin_token is not None
    if uploads:
        app.extensions["qa_jobs"] = JobQueue()
    app.extensions["qa_openapi"] = openapi_document(settings.max_question_chars, MAX_UPLOAD_BYTES if uploads else None)
    app.register_blueprint(api)
    app.register_blueprint(web)
    app.register_error_handler(QAError, _qa_error)
    app.register_error_handler(HTTPException, _http_error)
    app.register_error_handler(Exception, _internal_error)
    app.after_request(_finish)
    return app


def serve(settings: Settings, host: str = "127.0.0.1", port: int = 8000, dev: bool = False) -> None:
    """Waitress with 8 threads, or Flask's debug server (auto-reload) with dev=True."""
    app = create_app(settings)
    app.config["LOG_REQUESTS"] = True
    if dev:
        app.run(host=host, port=port, debug=True)
        return
    import waitress

    try:
        app.extensions["qa"].get().status()  # load model and index now, not on the first question
    except QAError as exc:
        logger.warning("starting without an index (%s): %s", exc.code, exc.message)
    logger.info("serving on http://%s:%d", host, port)
    waitress.serve(app, host=host, port=port, threads=8)


# ---- JSON API ----------------------------------------------------------------------------

api = Blueprint("api", __name__)


def _engine() -> Engine:
    return current_app.extensions["qa"].get()


def _json(body: BaseModel | dict[str, Any], status: int = 200) -> Response:
    text = body.model_dump_json() if isinstance(body, BaseModel) else json.dumps(body, ensure_ascii=False)
    return current_app.response_class(text, status=status, mimetype="application/json")


@api.post("/api/ask")
def ask() -> Response:
    if not request.is_json:
        raise UnsupportedMediaType("请以 Content-Type: application/json 发送 JSON 请求体")
    settings: Settings = current_app.extensions["qa"].settings
    question = parse_ask_request(request.get_data(cache=False), settings.max_question_chars)
    engine = _engine()
    started = time.perf_counter()
    answer = engine.ask(
        question.question,
        top_k=question.top_k,
        mode=question.mode,
        issue_id=question.issue,
        history=question.turns(),
    )
    took_ms = (time.perf_counter() - started) * 1000
    return _json(AskResponse.of(answer, question.mode, took_ms))


@api.get("/api/issues")
def issues() -> Response:
    return _json(IssueList.of(_engine().issues()))


@api.get("/api/articles/<path:article_id>")
def article(article_id: str) -> Response:
    return _json(ArticleDetail.of(*_engine().article(article_id)))


@api.post("/api/issues")
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
        raise UnsupportedMediaType("不支持的文件类型：只接受 .txt、.md、.pdf、.docx")
    settings: Settings = current_app.extensions["qa"].settings
    engine = _engine()
    embedder = getattr(engine, "embedder", None)
    if embedder is None:
        raise ModelUnavailable("这个服务器的引擎没有嵌入模型，不能加入简报；请在命令行运行 qa add")
    saved = save_upload(form.file.stream, settings, client_name, suffix)
    logger.info("upload %r saved as %s", client_name, saved)
    work = partial(add_uploaded_bulletin, settings, embedder, saved, form.label, engine.issues)
    job_id = jobs.submit(work, client_name)
    return _json(JobResponse.of(jobs.status(job_id)), 202)


@api.get("/api/jobs/<job_id>")
def job_status(job_id: str) -> Response:
    job = _admin_jobs().status(job_id)
    if job is None:
        raise NotFound(f"没有这个任务：{job_id}（任务记录只保存在内存中，服务器重启后不再保留）")
    return _json(JobResponse.of(job))


def _admin_jobs() -> JobQueue:
    """The job queue, once uploads are on (else 404) and the bearer token matches (else 401)."""
    token = current_app.extensions["qa"].settings.admin_token
    jobs = current_app.extensions.get("qa_jobs")
    if token is None or jobs is None:
        raise NotFound("本服务器未开启上传：设置环境变量 QA_ADMIN_TOKEN 后重启服务即可启用")
    scheme, _, given = request.headers.get("Authorization", "").partition(" ")
    if scheme.lower() != "bearer" or not hmac.compare_digest(given.strip().encode(), token.encode()):
        raise Unauthorized("需要管理员令牌：请求头 Authorization: Bearer <QA_ADMIN_TOKEN>")
    return jobs


@api.get("/healthz")
def healthz() -> Response:
    try:
        return _json(Health.of(_engine().status()))
    except QAError as exc:
        return _json(Unavailable.of(exc.code, exc.message), 503)


@api.get("/openapi.json")
def openapi() -> Response:
    return _json(current_app.extensions["qa_openapi"])


@api.get("/api/docs")
def docs() -> Response:
    page = _docs_page(current_app.extensions["qa_openapi"], request.host_url.rstrip("/"))
    return current_app.response_class(page, mimetype="text/html")


def _docs_page(document: dict[str, Any], base_url: str) -> str:
    """Static HTML (the CSP allows no inline script or style): one section per endpoint."""
    sections = [
        _DOCS_SECTION.format(
            method=method.upper(),
            path=path,
            summary=operation["summary"],
            description=Markup("<p>{}</p>").format(operation["description"]) if "description" in operation else "",
            statuses=", ".join(operation["responses"]),
            curl=operation["x-codeSamples"][0]["source"].replace(BASE_URL, base_url),
        )
        for path, operations in document["paths"].items()
        for method, operation in operations.items()
    ]
    info = document["info"]
    return _DOCS_PAGE.format(title=info["title"], description=info["description"], sections=Markup("\n").join(sections))


_DOCS_SECTION = Markup(
    "<section>\n<h2><code>{method} {path}</code></h2>\n<p>{summary}</p>{description}\n"
    "<p>状态码：{statuses}</p>\n<pre><code>{curl}</code></pre>\n</section>"
)
_DOCS_PAGE = Markup("""<!doctype html>
<html lang="zh-CN">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>{title}</title>
</head>
<body>
<main>
<h1>{title}</h1>
<p>{description}</p>
<p>机器可读的描述：<a href="/openapi.json">/openapi.json</a>（OpenAPI 3.1）。</p>
<p>出错时返回 <code>{{"error": {{"code": "…", "message": "…"}}}}</code>。代码：
<code>bad_question</code>、<code>bad_request</code>（400），<code>unauthorized</code>（401），<code>not_found</code>（404），
<code>method_not_allowed</code>（405），<code>request_entity_too_large</code>（413），
<code>unsupported_media_type</code>（415），<code>internal</code>（500），<code>index_not_ready</code>（503）。</p>
{sections}
</main>
</body>
</html>
""")


# ---- web page ----------------------------------------------------------------------------

web = Blueprint("web", __name__)


def _web_dir() -> Path:
    return Path(current_app.config["WEB_DIR"])


@web.get("/")
@web.get("/articles/<path:article_id>")
def page(article_id: str | None = None) -> Response:
    # The page itself loads the article through the API, so it works before an index exists.
    return send_from_directory(_web_dir(), "index.html")


@web.get("/static/<path:filename>")
def static_file(filename: str) -> Response:
    return send_from_directory(_web_dir(), filename)


# ---- errors and headers ------------------------------------------------------------------


def _error(status: int, code: str, message: str) -> Response:
    return _json(ErrorResponse.of(code, message), status)


def _qa_error(exc: QAError) -> Response:
    response = _error(exc.http_status, exc.code, exc.message)
    response.headers.update(getattr(exc, "headers", {}))  # e.g. WWW-Authenticate on a 401
    return response


def _http_error(exc: HTTPException) -> Response | HTTPException:
    if exc.code is None or exc.code < 400:  # routing redirects pass through
        return exc
    response = exc.get_response()  # keeps headers such as Allow on a 405
    code = (exc.name or "error").lower().replace(" ", "_")
    body = ErrorResponse.of(code, _HTTP_MESSAGES.get(exc.code, exc.description or exc.name))
    response.set_data(body.model_dump_json())
    response.mimetype = "application/json"
    return response


def _internal_error(exc: Exception) -> Response:
    logger.exception("unhandled error on %s %s", request.method, request.path)
    return _error(500, "internal", "服务器内部错误，请稍后再试")


def _finish(response: Response) -> Response:
    response.headers.update(SECURITY_HEADERS)
    if current_app.config["LOG_REQUESTS"]:
        logger.info("%s %s %d", request.method, request.full_path.rstrip("?"), response.status_code)
    return response
