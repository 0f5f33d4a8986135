"""The web app: a JSON API over one Engine, the web page from web/, and `serve()`.
Uploads (qa.uploads) and the API description (qa.openapi) are their own modules.

Requests are validated here (qa.api models) and errors always leave as JSON
`{"error": {"code", "message"}}`; the engine behind is trusted.
"""

from __future__ import annotations

import logging
import mimetypes
import time
from pathlib import Path

from flask import Blueprint, Flask, Response, current_app, request, send_from_directory
from werkzeug.exceptions import HTTPException

import qa

from . import uploads
from .api import (
    ArticleDetail,
    AskResponse,
    ErrorResponse,
    Health,
    IssueList,
    Unavailable,
    parse_ask_request,
)
from .config import Settings
from .context import EngineSlot, current_engine, current_settings, json_response
from .engine import Engine
from .errors import QAError, UnsupportedMediaType
from .jobs import JobQueue
from .local_server import remove_server_record, write_server_record
from .openapi import docs_page, openapi_document

# The page is native ES modules: they need a JavaScript type whatever the host's MIME table says.
mimetypes.add_type("text/javascript", ".js")

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
_HTTP_MESSAGES = {
    404: "没有这个地址",
    405: "这个地址不支持该请求方法",
    413: "请求体太大",
}


def create_app(settings: Settings | None = None, engine: Engine | None = None) -> Flask:
    settings = settings or Settings.load()
    app = Flask(__name__, static_folder=None)
    app.config.update(
        WEB_DIR=Path(qa.__file__).resolve().parent.parent / "web",
        MAX_CONTENT_LENGTH=MAX_BODY_BYTES,
        LOG_REQUESTS=False,
    )
    app.extensions["qa"] = EngineSlot(settings, engine)
    uploads_on = settings.admin_token is not None
    if uploads_on:
        app.extensions["qa_jobs"] = JobQueue()
    upload_bytes = uploads.MAX_UPLOAD_BYTES if uploads_on else None
    app.extensions["qa_openapi"] = openapi_document(settings.max_question_chars, upload_bytes)
    app.register_blueprint(api)
    app.register_blueprint(uploads.blueprint)  # always: its routes say 404 while uploads are off
    app.register_blueprint(web)
    app.register_error_handler(QAError, _qa_error)
    app.register_error_handler(HTTPException, _http_error)
    app.register_error_handler(Exception, _internal_error)
    app.after_request(_finish)
    return app


def serve(settings: Settings, host: str = "127.0.0.1", port: int = 8000, dev: bool = False) -> None:
    """Waitress with `settings.serve_threads` threads, or Flask's debug server (auto-reload) with dev=True.

    Each request embeds its question on its own thread (one onnxruntime thread each): on 2 cores, requests in
    parallel use the cores better than one request spread over both (README, Performance)."""
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
    url = f"http://{'127.0.0.1' if host in ('0.0.0.0', '::', '') else host}:{port}"
    write_server_record(settings.index_dir, url)  # lets `qa ask` use this server, and builds give way to it
    try:
        waitress.serve(app, host=host, port=port, threads=settings.serve_threads)
    finally:
        remove_server_record(settings.index_dir)


# ---- JSON API ----------------------------------------------------------------------------

api = Blueprint("api", __name__)


@api.post("/api/ask")
def ask() -> Response:
    if not request.is_json:
        raise UnsupportedMediaType("请以 Content-Type: application/json 发送 JSON 请求体")
    question = parse_ask_request(request.get_data(cache=False), current_settings().max_question_chars)
    engine = current_engine()
    started = time.perf_counter()
    answer = engine.ask(
        question.question,
        top_k=question.top_k,
        mode=question.mode,
        issue_id=question.issue,
        history=question.turns(),
    )
    took_ms = (time.perf_counter() - started) * 1000
    return json_response(AskResponse.of(answer, question.mode, took_ms))


@api.get("/api/issues")
def issues() -> Response:
    return json_response(IssueList.of(current_engine().issues()))


@api.get("/api/articles/<path:article_id>")
def article(article_id: str) -> Response:
    return json_response(ArticleDetail.of(*current_engine().article(article_id)))


@api.get("/healthz")
def healthz() -> Response:
    try:
        return json_response(Health.of(current_engine().status()))
    except QAError as exc:
        return json_response(Unavailable.of(exc.code, exc.message), 503)


@api.get("/openapi.json")
def openapi() -> Response:
    return json_response(current_app.extensions["qa_openapi"])


@api.get("/api/docs")
def docs() -> Response:
    page = docs_page(current_app.extensions["qa_openapi"], request.host_url.rstrip("/"))
    return current_app.response_class(page, mimetype="text/html")


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
    return json_response(ErrorResponse.of(code, message), status)


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
