"""Errors leave as JSON `{"error": {"code", "message"}}` — except a page address nobody serves,
which a browser gets as an HTML 404 page. Tracebacks go to the log, never to the client. Requests
the HTTP server refuses before the app sees them get the same shape (`refusal_body`)."""

from __future__ import annotations

import logging
from pathlib import Path

from flask import Flask, Response, current_app, request, send_from_directory
from werkzeug.exceptions import HTTPException

from ..errors import Internal, QAError
from .context import json_response
from .models import ErrorResponse

logger = logging.getLogger(__name__)

API_PREFIXES = ("/api/", "/healthz", "/openapi.json", "/static/")
HTTP_MESSAGES = {
    404: "没有这个地址",
    405: "这个地址不支持该请求方法",
    413: "请求体太大",
}
REFUSAL_MESSAGES = {
    400: "无法解析的 HTTP 请求",
    413: HTTP_MESSAGES[413],
    431: "请求头太大",
    501: "不支持这种 Transfer-Encoding",
}
"""What waitress refuses before the app sees the request (qa.http.refusals)."""


def register_error_handlers(app: Flask) -> None:
    app.register_error_handler(QAError, _qa_error)
    app.register_error_handler(HTTPException, _http_error)
    app.register_error_handler(Exception, _internal_error)


def error_response(status: int, code: str, message: str) -> Response:
    return json_response(ErrorResponse.of(code, message), status)


def _qa_error(exc: QAError) -> Response:
    response = error_response(exc.http_status, exc.code, exc.message)
    response.headers.update(getattr(exc, "headers", {}))  # e.g. WWW-Authenticate on a 401
    return response


def _wants_page() -> bool:
    """A GET for an address outside the API, from a browser: show a page, not JSON."""
    if request.method != "GET" or request.path.startswith(API_PREFIXES) or request.path == "/api":
        return False
    accept = request.accept_mimetypes  # a browser asks for text/html first; curl's */* gets JSON
    return accept["text/html"] > accept["application/json"]


def _http_error(exc: HTTPException) -> Response | HTTPException:
    if exc.code is None or exc.code < 400:  # routing redirects pass through
        return exc
    if exc.code == 404 and _wants_page() and (Path(current_app.config["WEB_DIR"]) / "404.html").is_file():
        response = send_from_directory(current_app.config["WEB_DIR"], "404.html")
        response.status_code = 404
        return response
    response = exc.get_response()  # keeps headers such as Allow on a 405
    code = (exc.name or "error").lower().replace(" ", "_")
    body = ErrorResponse.of(code, HTTP_MESSAGES.get(exc.code, exc.description or exc.name))
    response.set_data(body.model_dump_json())
    response.mimetype = "application/json"
    return response


def refusal_body(status: int, reason: str) -> bytes:
    """The error body for a request refused by the HTTP server itself (a body over its limit, headers it
    cannot parse): the API's shape, and the code Flask's own error of that status gets."""
    if status >= 500 and status not in REFUSAL_MESSAGES:
        code, message = Internal.code, Internal.example
    else:
        code, message = reason.lower().replace(" ", "_"), REFUSAL_MESSAGES.get(status, reason)
    return ErrorResponse.of(code, message).model_dump_json().encode("utf-8")


def _internal_error(exc: Exception) -> Response:
    logger.exception("处理 %s %s 时出现未预料的错误", request.method, request.path)
    return error_response(Internal.http_status, Internal.code, Internal.example)
