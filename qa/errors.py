"""The project's exceptions: each carries a short machine code and a message a user can act on."""


class QAError(Exception):
    """Base class: `code` is stable for API clients, the message is for people."""

    code = "error"
    http_status = 500
    example = "出错了"  # a typical message, for the API description

    def __init__(self, message: str):
        super().__init__(message)
        self.message = message


class BadBulletin(QAError):
    """A bulletin file cannot be read or holds no recognisable article."""

    code = "bad_bulletin"
    http_status = 422
    example = "scan.pdf 没有文字层（可能是扫描图片），暂不支持文字识别（OCR）"


class BadQuestion(QAError):
    code = "bad_question"
    http_status = 400
    example = "问题不能为空"


class BadRequest(QAError):
    """A request the API cannot read (bad field, malformed JSON)."""

    code = "bad_request"
    http_status = 400
    example = "top_k 不能大于 20"


class UnsupportedMediaType(QAError):
    code = "unsupported_media_type"
    http_status = 415
    example = "请以 Content-Type: application/json 发送 JSON 请求体"


class Unauthorized(QAError):
    code = "unauthorized"
    http_status = 401
    example = "需要管理员令牌：请求头 Authorization: Bearer <QA_ADMIN_TOKEN>"
    headers = {"WWW-Authenticate": 'Bearer realm="qa-admin"'}


class BodyTooLarge(QAError):
    """A request body over its route's limit."""

    code = "request_entity_too_large"  # the code Flask's own 413 gets, so clients see one code
    http_status = 413
    example = "请求体太大"


class UploadTooLarge(BodyTooLarge):
    example = "文件太大：请求体最多 20 MB"


class NotFound(QAError):
    code = "not_found"
    http_status = 404
    example = "没有这篇文章：2023-12/99"


class IndexNotReady(QAError):
    """No finished build exists yet."""

    code = "index_not_ready"
    http_status = 503
    example = "index 中还没有索引：请先运行 qa build"


class IndexMismatch(QAError):
    """The build on disk was made with another model or format version."""

    code = "index_mismatch"
    http_status = 503
    example = "索引用另一个模型构建：请运行 qa build --force"


class BuildLocked(QAError):
    """Another build holds the lock."""

    code = "build_locked"
    http_status = 409
    example = "另一个索引构建正在进行，请等它结束后再上传"


class ModelUnavailable(QAError):
    """The embedding model cannot be found or converted."""

    code = "model_unavailable"
    http_status = 503
    example = "嵌入模型无法加载"


class TooManyRequests(QAError):
    """A client sent more than its share; `retry_after` seconds until it may again."""

    code = "too_many_requests"
    http_status = 429
    example = "反馈太频繁，请 60 秒后再试"

    def __init__(self, message: str, retry_after: int):
        super().__init__(message)
        self.headers = {"Retry-After": str(retry_after)}


class Internal(QAError):
    """Anything unexpected: the details go to the server log only."""

    code = "internal"
    http_status = 500
    example = "服务器内部错误，请稍后再试"


class BadSetting(QAError):
    """An environment variable or flag holds a value the program cannot use."""

    code = "bad_setting"
    http_status = 500
    example = "QA_EMBED_RUNTIME 只能是 onnx 或 torch"


class PageMissing(QAError):
    """The page's directory (web/) cannot be found: the package runs outside the repository."""

    code = "page_missing"
    http_status = 503
    example = "找不到网页文件（/opt/venv/lib/python3.11/site-packages/web/index.html 不存在）：网页在仓库顶层的 web/ 目录中，请在仓库中用 pip install -e . 安装（make install 即是如此），或用环境变量 QA_WEB_DIR 指明 web/ 目录"


class ServerUnreachable(QAError):
    """`qa ask --url`: nothing that speaks the qa API answered at that address."""

    code = "server_unreachable"
    http_status = 502
    example = "http://127.0.0.1:8000 没有应答"
class IndexDamaged(QAError):
    """A build on disk is incomplete or corrupt (a file missing, changed, or the counts disagree)."""

    code = "index_damaged"
    http_status = 503
    example = "索引 20261201T101500000000Z 已损坏：chunks.jsonl 有 69942 字节，清单记录的是 90042；请运行 qa build --force"


class IssueTaken(QAError):
    """A new bulletin's issue id belongs to an issue already in the seeds."""

    code = "issue_taken"
    http_status = 409
    example = "2022年第10期（期次 id 2022-10）已在索引中（000_dac0edc6142bea7e.txt）；如要替换这一期，请指明替换 2022-10"


class StorageError(QAError):
    """The seeds or index directory cannot be written (read-only, full, permissions)."""

    code = "storage_unavailable"
    http_status = 503
    example = "无法写入索引目录：No space left on device；没有任何改动"

    def __init__(self, message: str, reason: str = ""):
        super().__init__(message)
        self.reason = reason  # the operating system's words ("No space left on device"), for clients

    @classmethod
    def of(cls, exc: OSError, what: str, outcome: str = "没有任何改动") -> "StorageError":
        reason = exc.strerror or str(exc) or type(exc).__name__
        where = f"（{exc.filename}）" if exc.filename else ""
        return cls(f"无法写入{what}：{reason}{where}；{outcome}", reason)


def shown(value: str, limit: int = 40) -> str:
    """A client-supplied value as it may appear in a message: at most `limit` characters."""
    return value if len(value) <= limit else value[:limit] + "…"
