"""The project's exceptions: each carries a short machine code and a message a user can act on."""


class QAError(Exception):
    """Base class: `code` is stable for API clients, the message is for people."""

    code = "error"
    http_status = 500

    def __init__(self, message: str):
        super().__init__(message)
        self.message = message


class BadBulletin(QAError):
    """A bulletin file cannot be read or holds no recognisable article."""

    code = "bad_bulletin"
    http_status = 422


class BadQuestion(QAError):
    code = "bad_question"
    http_status = 400


class BadRequest(QAError):
    """A request the API cannot read (bad field, malformed JSON)."""

    code = "bad_request"
    http_status = 400


class UnsupportedMediaType(QAError):
    code = "unsupported_media_type"
    http_status = 415


class Unauthorized(QAError):
    code = "unauthorized"
    http_status = 401
    headers = {"WWW-Authenticate": 'Bearer realm="qa-admin"'}


class UploadTooLarge(QAError):
    code = "request_entity_too_large"  # the code Flask's own 413 gets, so clients see one code
    http_status = 413


class NotFound(QAError):
    code = "not_found"
    http_status = 404


class IndexNotReady(QAError):
    """No finished build exists yet."""

    code = "index_not_ready"
    http_status = 503


class IndexMismatch(QAError):
    """The build on disk was made with another model or format version."""

    code = "index_mismatch"
    http_status = 503


class BuildLocked(QAError):
    """Another build holds the lock."""

    code = "build_locked"
    http_status = 409


class ModelUnavailable(QAError):
    """The embedding model cannot be found or converted."""

    code = "model_unavailable"
    http_status = 503


class BadSetting(QAError):
    """An environment variable or flag holds a value the program cannot use."""

    code = "bad_setting"
    http_status = 500


class ServerUnreachable(QAError):
    """`qa ask --url`: nothing that speaks the qa API answered at that address."""

    code = "server_unreachable"
    http_status = 502
