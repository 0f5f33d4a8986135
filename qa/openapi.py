"""The API described for people and programs: the OpenAPI 3.1 document, generated from the
request/response models (qa.api, qa.uploads), and the /api/docs page rendered from it."""

from __future__ import annotations

import json
from typing import Any

from markupsafe import Markup
from pydantic.json_schema import models_json_schema

from .api import (
    DEFAULT_MAX_QUESTION_CHARS,
    ArticleDetail,
    AskRequest,
    AskResponse,
    ErrorResponse,
    Health,
    IssueList,
    Unavailable,
)
from .uploads import MAX_LABEL_CHARS, JobResponse, UploadForm

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
    """OpenAPI 3.1 for every endpoint; the component schemas are generated from the models.

    `upload_bytes` is the upload limit when uploads are enabled; None leaves them out, as the
    server then answers 404 there.
    """
    ref, schemas = _component_schemas(max_question_chars, uploads=upload_bytes is not None)
    paths = _core_paths(ref, max_question_chars)
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


def _component_schemas(max_question_chars: int, uploads: bool) -> tuple[dict[str, Any], dict[str, Any]]:
    """The models' JSON schemas, and a $ref to each by model name."""
    responses = (AskResponse, IssueList, ArticleDetail, Health, Unavailable, ErrorResponse)
    if uploads:
        responses += (JobResponse,)
    requests = [AskRequest, *((UploadForm,) if uploads else ())]
    models = [*((model, "validation") for model in requests), *((model, "serialization") for model in responses)]
    refs, definitions = models_json_schema(models, ref_template="#/components/schemas/{model}")
    ref = {model.__name__: refs[(model, mode)] for model, mode in models}
    schemas = definitions["$defs"]
    # The limit is a setting, so the model only knows it at validation time (through the context).
    schemas["AskRequest"]["properties"]["question"]["maxLength"] = max_question_chars
    return ref, schemas


def _core_paths(ref: dict[str, Any], max_question_chars: int) -> dict[str, Any]:
    """Asking, reading and the service's own endpoints: there whether or not uploads are on."""

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
    return {
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


ADMIN_SCHEME = "adminToken"
UPLOAD_EXAMPLE_CURL = (
    f'curl -s -H "Authorization: Bearer $QA_ADMIN_TOKEN" -F file=@bulletin.pdf -F label=2024年第3期 {BASE_URL}/api/issues'
)
JOB_EXAMPLE_CURL = f'curl -s -H "Authorization: Bearer $QA_ADMIN_TOKEN" {BASE_URL}/api/jobs/<job_id>'
_UPLOAD_DESCRIPTION = (
    "需要管理员令牌（服务器设置 QA_ADMIN_TOKEN 后才开启，否则 404）。以 multipart/form-data 上传：file 为简报文件"
    "（.txt、.md、.pdf（文字版或扫描件）、.docx、.png/.jpg 页面图片，按文件名后缀判断），label 可选（如 2024年第3期，最多 {label} 字，不含斜杠）。"
    "整个请求体最多 {mb} MB。文件在后台解析并加入索引，立即返回 202 和任务地址；轮询 GET /api/jobs/{{job_id}} "
    "直到 status 为 done（result 给出期次 id）或 failed（error 说明原因，索引不变）。内容相同的文件不会重复加入。"
)


def _add_upload_paths(paths: dict[str, Any], ref: dict[str, Any], upload_bytes: int) -> None:
    paths["/api/issues"]["post"] = _upload_operation(ref, upload_bytes)
    paths["/api/jobs/{job_id}"] = {"get": _job_operation(ref)}


def _admin_responses(ref: dict[str, Any]) -> tuple[dict[str, Any], dict[str, Any], dict[str, Any]]:
    """Bodies both admin endpoints answer with: an error, a 401 with its challenge, a job."""
    error = {"content": {"application/json": {"schema": ref["ErrorResponse"]}}}
    unauthorized = {
        "description": "缺少或错误的管理员令牌（unauthorized）",
        "headers": {"WWW-Authenticate": {"schema": {"type": "string"}, "description": 'Bearer realm="qa-admin"'}},
        **error,
    }
    job_ok = {"content": {"application/json": {"schema": ref["JobResponse"]}}}
    return error, unauthorized, job_ok


def _upload_operation(ref: dict[str, Any], upload_bytes: int) -> dict[str, Any]:
    error, unauthorized, job_ok = _admin_responses(ref)
    upload_body = {"required": True, "content": {"multipart/form-data": {
        "schema": ref["UploadForm"], "encoding": {"file": {"contentType": "application/octet-stream"}},
    }}}  # fmt: skip
    return {
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


def _job_operation(ref: dict[str, Any]) -> dict[str, Any]:
    error, unauthorized, job_ok = _admin_responses(ref)
    job_id = {"name": "job_id", "in": "path", "required": True, "schema": {"type": "string"},
              "description": "上传时返回的任务 id"}  # fmt: skip
    return {
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
    }


# ---- /api/docs ---------------------------------------------------------------------------


def docs_page(document: dict[str, Any], base_url: str) -> str:
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
