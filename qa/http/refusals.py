"""What waitress answers itself, before the app sees the request — a body over max_request_body_size (refused
from its Content-Length, before any of it is read), headers too large or unparsable: the API's JSON error
instead of waitress's plain text."""

from __future__ import annotations

from waitress.channel import HTTPChannel
from waitress.task import ErrorTask

from .errors import refusal_body


class JsonErrorTask(ErrorTask):
    headers = (("Content-Type", "application/json"), ("X-Content-Type-Options", "nosniff"))

    def execute(self) -> None:
        error = self.request.error
        body = refusal_body(error.code, error.reason)
        self.status = f"{error.code} {error.reason}"
        self.response_headers.extend(self.headers)
        self.set_close_on_finish()  # the rest of the request was never read: the connection cannot be reused
        self.content_length = len(body)
        self.write(body)


class JsonErrorChannel(HTTPChannel):
    error_task_class = JsonErrorTask
