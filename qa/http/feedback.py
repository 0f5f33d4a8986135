"""POST /api/feedback: a reader's 有用 / 不对 on an answer, validated, size- and rate-limited,
stored with the answer shown, its citation, confidence and build (qa.feedback)."""

from __future__ import annotations

import threading
import time
from collections import deque
from typing import Literal

from flask import Blueprint, Response, current_app, request
from pydantic import BaseModel, ConfigDict, Field, ValidationError

from ..errors import (
    BadRequest, BodyTooLarge, IndexDamaged, IndexMismatch, IndexNotReady, NotFound, TooManyRequests,
    UnsupportedMediaType, shown,
)  # fmt: skip
from ..feedback import Feedback, FeedbackStore
from .context import current_engine, json_response
from .models import ResponseModel, validation_message
from .routing import Endpoint, endpoint

MAX_FEEDBACK_BYTES = 16 * 1024
MAX_ANSWER_CHARS = 2000
MAX_NOTE_CHARS = 500
FEEDBACK_PER_MINUTE = 20
"""Per client address. Behind a reverse proxy every client has the proxy's address: raise it there."""

blueprint = Blueprint("feedback", __name__)


class FeedbackRequest(BaseModel):
    """What the reader saw and what they say about it."""

    model_config = ConfigDict(strict=True, extra="ignore", frozen=True)

    verdict: Literal["useful", "wrong"] = Field(description="useful（有用）或 wrong（不对）。")
    question: str = Field(min_length=1, max_length=500, description="提的问题（与 /api/ask 的 question 相同）。")
    resolved_question: str | None = Field(None, max_length=500, description="/api/ask 返回的 resolved_question。")
    answer: str | None = Field(None, max_length=MAX_ANSWER_CHARS, description="显示的答案原文；未找到答案时为 null。")
    article_id: str | None = Field(None, max_length=80, pattern=r"^[\w.-]+/\d{1,4}$",
                                    description="答案出处的文章 id（answer.citation.article.id）。")
    start: int | None = Field(None, ge=0, description="答案在文章中的起始偏移（answer.start）。")
    end: int | None = Field(None, ge=0, description="答案在文章中的结束偏移（answer.end）。")
    confidence: float | None = Field(None, ge=0, le=1, description="显示的把握（answer.confidence）。")
    build_id: str | None = Field(None, max_length=64, description="回答问题的索引版本（/api/ask 的 build_id）。")
    note: str | None = Field(None, max_length=MAX_NOTE_CHARS, description="选“不对”时可写：正确答案是……")


class FeedbackReceipt(ResponseModel):
    id: int
    created_at: str


class FeedbackResponse(ResponseModel):
    feedback: FeedbackReceipt


class RateLimit:
    """At most `limit` calls per client in any `window` seconds (in memory, per process)."""

    def __init__(self, limit: int = FEEDBACK_PER_MINUTE, window: float = 60.0):
        self.limit, self.window = limit, window
        self._calls: dict[str, deque[float]] = {}
        self._lock = threading.Lock()

    def check(self, client: str) -> None:
        now = time.monotonic()
        with self._lock:
            calls = self._calls.setdefault(client, deque())
            while calls and calls[0] <= now - self.window:
                calls.popleft()
            if len(calls) >= self.limit:
                wait = max(1, int(calls[0] + self.window - now) + 1)
                raise TooManyRequests(f"反馈太频繁，请 {wait} 秒后再试", retry_after=wait)
            calls.append(now)
            if len(self._calls) > 10_000:  # forget idle clients rather than grow without end
                for key in [key for key, value in self._calls.items() if not value]:
                    del self._calls[key]


@endpoint(blueprint, "POST", "/api/feedback", Endpoint(
    summary="对一个答案的反馈：有用 / 不对（可附正确答案）", tag="问答", response=FeedbackResponse, status=201,
    body=FeedbackRequest, errors=(BadRequest, BodyTooLarge, NotFound, UnsupportedMediaType, TooManyRequests, IndexNotReady,
                                 IndexMismatch, IndexDamaged),
    description=f"请求体最多 {MAX_FEEDBACK_BYTES // 1024} KB；每个客户端每分钟最多 {FEEDBACK_PER_MINUTE} 次（超过返回 429 和 "
                "Retry-After）。article_id 必须是正在使用的索引中的文章，否则返回 404（not_found），反馈不保存。"
                "反馈与显示的答案、出处、把握和索引版本一起保存，可用 qa feedback export 导出为训练问题格式。",
    curl="curl -s -X POST {base}/api/feedback -H 'Content-Type: application/json' "
         "-d '{\"verdict\": \"wrong\", \"question\": \"宜昌2022年技术合同成交额？\", \"note\": \"正确答案是……\"}'",
))  # fmt: skip
def give_feedback() -> Response:
    if not request.is_json:
        raise UnsupportedMediaType("请以 Content-Type: application/json 发送 JSON 请求体")
    if (request.content_length or 0) > MAX_FEEDBACK_BYTES:
        raise BodyTooLarge(f"反馈太长：请求体最多 {MAX_FEEDBACK_BYTES // 1024} KB")
    current_app.extensions["qa_feedback_limit"].check(request.remote_addr or "unknown")
    body = request.get_data(cache=False)[: MAX_FEEDBACK_BYTES + 1]
    if len(body) > MAX_FEEDBACK_BYTES:
        raise BodyTooLarge(f"反馈太长：请求体最多 {MAX_FEEDBACK_BYTES // 1024} KB")
    try:
        given = FeedbackRequest.model_validate_json(body)
    except ValidationError as exc:
        raise BadRequest(validation_message(exc)) from None
    stored = feedback_store().add(_record(given))
    return json_response(FeedbackResponse(feedback=FeedbackReceipt(id=stored.id, created_at=stored.created_at)), 201)


def _record(given: FeedbackRequest) -> Feedback:
    """The row to store. An article id must name an article of the index being served (it names the
    bulletin file the training row points at): any other is refused, and nothing is stored."""
    title = source = None
    if given.article_id:
        try:
            issue, article = current_engine().article(given.article_id)
        except NotFound:
            raise NotFound(f"没有这篇文章：{shown(given.article_id)}；反馈没有保存") from None
        title, source = article.title, issue.source
    clean = lambda text: (text or "").strip() or None  # noqa: E731
    return Feedback(
        verdict=given.verdict, question=given.question.strip(), resolved_question=clean(given.resolved_question),
        answer=clean(given.answer), article_id=given.article_id, article_title=title, source=source,
        answer_start=given.start, answer_end=given.end, confidence=given.confidence, build_id=given.build_id,
        note=clean(given.note),
    )


def feedback_store() -> FeedbackStore:
    return current_app.extensions["qa_feedback"]


def init_feedback(app, settings) -> None:
    from ..feedback import DB_FILE

    app.extensions["qa_feedback"] = FeedbackStore(settings.index_dir / DB_FILE)
    app.extensions["qa_feedback_limit"] = RateLimit()
