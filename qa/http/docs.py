"""The API described: /openapi.json (generated from the routes, qa.http.openapi) and /api/docs,
which renders it with Redoc (MIT licence), vendored in the package under web/vendor/redoc/ — no CDN."""

from __future__ import annotations

from flask import Blueprint, Response, current_app, send_from_directory

from .context import current_settings, json_response, page_dir
from .openapi import openapi_document
from .routing import Endpoint, endpoint

blueprint = Blueprint("docs", __name__)

# Redoc's styled-components add <style> elements, so this one page allows inline styles; scripts
# stay 'self' only, and search (a blob: web worker) is switched off in docs.js.
DOCS_CSP = (
    "default-src 'self'; script-src 'self'; style-src 'self' 'unsafe-inline'; img-src 'self' data:; "
    "font-src 'self' data:; connect-src 'self'; worker-src 'none'; object-src 'none'; base-uri 'none'; "
    "frame-ancestors 'none'; form-action 'self'"
)


def document() -> dict:
    """Generated once per app, on first use: every blueprint is registered by then."""
    extensions = current_app.extensions
    if "qa_openapi" not in extensions:
        extensions["qa_openapi"] = openapi_document(current_app, current_settings().max_question_chars)
    return extensions["qa_openapi"]


@endpoint(blueprint, "GET", "/openapi.json", Endpoint(
    summary="本 API 的 OpenAPI 3.1 描述", tag="服务", curl="curl -s {base}/openapi.json",
))  # fmt: skip
def openapi() -> Response:
    return json_response(document())


@endpoint(blueprint, "GET", "/api/docs", Endpoint(
    summary="接口文档（网页）", tag="服务", media="text/html", curl="curl -s {base}/api/docs",
))  # fmt: skip
def docs() -> Response:
    response = send_from_directory(page_dir(current_app), "docs.html")
    response.headers["Content-Security-Policy"] = DOCS_CSP
    return response
