"""Asking and reading: /api/ask, the catalogue, one article, an issue's original file, /healthz.
Requests are validated here (qa.http.models); the engine behind is trusted."""

from __future__ import annotations

from flask import Blueprint, Response, request, send_file

from ..errors import (
    BadQuestion,
    BadRequest,
    IndexDamaged,
    IndexMismatch,
    IndexNotReady,
    NotFound,
    QAError,
    UnsupportedMediaType,
)
from .context import current_engine, current_settings, json_response
from .models import (
    DEFAULT_MAX_QUESTION_CHARS, ArticleDetail, AskRequest, AskResponse, Health, IssueList, Unavailable, answer_question,
    parse_ask_request,
)  # fmt: skip
from .routing import Endpoint, Param, endpoint

blueprint = Blueprint("ask", __name__)
NOT_READY = (IndexNotReady, IndexMismatch, IndexDamaged)
_ARTICLE_ID = Param("文章 id：期次 id/序号，如 2023-12/04（斜杠是 id 的一部分）", "2023-12/04")
_ISSUE_ID = Param("期次 id，如 2023-12（见 GET /api/issues）", "2023-12")

_ASK_DESCRIPTION = (
    "question 必填，去掉首尾空白后 1–{limit} 字；top_k 为 1–20 的整数（默认 5）；mode 取 hybrid、dense 或 keyword；"
    "issue 为期次 id（如 2022-10），省略或留空表示全部期次；history 为之前的问答（最多 10 轮，每轮的问题与 question 同样最多 {limit} 字，"
    "答案最多 2000 字），用来理解追问，"
    "resolved_question 给出追问被理解成的完整问题。找不到答案时 found 为 false、answer 为 null，citations 仍列出"
    "最相关的段落。related_articles 是其他期次中同一主题的文章（建立索引时按文章向量的相似度算出）。"
).format(limit=DEFAULT_MAX_QUESTION_CHARS)


@endpoint(blueprint, "POST", "/api/ask", Endpoint(
    summary="提问：返回摘自原文的答案及其出处", tag="问答", response=AskResponse, body=AskRequest,
    errors=(BadQuestion, BadRequest, NotFound, UnsupportedMediaType, *NOT_READY), description=_ASK_DESCRIPTION,
    curl="curl -s -X POST {base}/api/ask -H 'Content-Type: application/json' "
         "-d '{\"question\": \"2023年前三季度贵州技术合同成交额是多少？\", \"top_k\": 3}'",
))  # fmt: skip
def ask() -> Response:
    if not request.is_json:
        raise UnsupportedMediaType("请以 Content-Type: application/json 发送 JSON 请求体")
    question = parse_ask_request(request.get_data(cache=False), current_settings().max_question_chars)
    return json_response(answer_question(current_engine(), question))


@endpoint(blueprint, "GET", "/api/issues", Endpoint(
    summary="全部期次及其文章目录（最新的在前，未注明期号的排最后）", tag="阅读", response=IssueList, errors=NOT_READY,
    curl="curl -s {base}/api/issues",
))  # fmt: skip
def issues() -> Response:
    return json_response(IssueList.of(*current_engine().catalogue()))


@endpoint(blueprint, "GET", "/api/articles/<path:article_id>", Endpoint(
    summary="一篇文章的全文（答案与引文的偏移量指向其中）", tag="阅读", response=ArticleDetail,
    errors=(NotFound, *NOT_READY), params={"article_id": _ARTICLE_ID}, curl="curl -s {base}/api/articles/2023-12/04",
))  # fmt: skip
def article(article_id: str) -> Response:
    return json_response(ArticleDetail.of(*current_engine().article(article_id)))


@endpoint(blueprint, "GET", "/api/issues/<issue_id>/file", Endpoint(
    summary="下载一期简报的原文件（建立索引时用的那个文件）", tag="阅读", media="application/octet-stream",
    errors=(NotFound, *NOT_READY), params={"issue_id": _ISSUE_ID},
    description="以附件形式返回原始文件（.txt、.md、.pdf 或 .docx）。文件已被删除或内容已与索引不符时返回 404。",
    headers={"Content-Disposition": "attachment; filename=…（原文件名）"},
    curl="curl -sOJ {base}/api/issues/2023-12/file",
))  # fmt: skip
def issue_file(issue_id: str) -> Response:
    issue, path = current_engine().source_file(issue_id)
    return send_file(path, as_attachment=True, download_name=issue.source, max_age=0)


@endpoint(blueprint, "GET", "/healthz", Endpoint(
    summary="服务状态：当前使用的索引版本", tag="服务", response=Health, curl="curl -s {base}/healthz",
    responses={503: (Unavailable, "索引尚未就绪、已损坏或模型无法加载（index_not_ready、index_damaged、"
                                  "index_mismatch、model_unavailable）；当前索引损坏但有较早的完好索引时，或正在使用的索引"
                                  "在磁盘上已损坏（仍以载入时校验过的内容回答）时仍为 200，status 为 degraded，problem 说明原因")},
))  # fmt: skip
def healthz() -> Response:
    try:
        return json_response(Health.of(current_engine().status()))
    except QAError as exc:
        return json_response(Unavailable.of(exc.code, exc.message), 503)
