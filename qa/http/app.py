"""The app factory: the blueprints (asking and reading, uploads, feedback, the API description),
the web page from the repository's web/ directory, security headers, error handlers; and `serve()`."""

from __future__ import annotations

import logging
import signal
import sys
import mimetypes
from pathlib import Path
from typing import Callable

from flask import Blueprint, Flask, Response, current_app, request, send_from_directory

from ..config import Settings
from ..local_server import remove_server_record, write_server_record
from ..engine import Engine
from ..errors import PageMissing, QAError
from . import ask, docs, feedback, uploads
from .context import EngineSlot, page_dir
from .errors import register_error_handlers

# The page is native ES modules: they need a JavaScript type whatever the host's MIME table says.
mimetypes.add_type("text/javascript", ".js")

logger = logging.getLogger(__name__)

WEB_DIR = Path(__file__).resolve().parents[2] / "web"
"""The page: `web/` at the top of the repository, beside `qa/`. An editable install (`pip install -e .`, what
`make install` does) runs the package from the repository, so it is found there; a wheel installed elsewhere
does not carry it, and QA_WEB_DIR names it (`page_dir`)."""
CSP = (
    "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
    "connect-src 'self'; object-src 'none'; base-uri 'none'; frame-ancestors 'none'; form-action 'self'"
)
SECURITY_HEADERS = {
    "Content-Security-Policy": CSP,
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "no-referrer",
}
MAX_BODY_BYTES = 256 * 1024  # ten turns of history fit many times over
WAITRESS = {
    # threads: settings.serve_threads (QA_SERVE_THREADS, 8 by default; README, Performance).
    # Slow or idle clients hold a connection, not a thread (waitress buffers each request before a
    # thread sees it); the figures behind these limits are in the README (Operations).
    "connection_limit": 1000,
    "channel_timeout": 30,  # seconds a connection may stay silent, mid-request or idle between requests
    "cleanup_interval": 5,  # how often silent connections are looked for
    "asyncore_use_poll": True,  # select() cannot watch more than 1024 sockets
    "backlog": 1024,
    "inbuf_overflow": 64 * 1024,  # request bodies beyond this wait in a temp file, not in memory
    "max_request_body_size": uploads.MAX_UPLOAD_BYTES + 64 * 1024,  # refused before it is read
}
SWITCH_INTERVAL_SECONDS = 0.001
"""How long a request thread may hold the GIL while another wants it (Python's default is 5 ms). A request
gives the GIL up while onnxruntime embeds its question and must win it back afterwards; with 5 ms turns a
thread back from the model waits behind whichever thread runs Python. Measured with 8 clients on 2 cores
(README, Performance): during a `qa add` 90 req/s, p50 85 ms at 5 ms against 103–105 req/s, p50 71–76 ms at
1 ms; idle 100–115 against 111–117 req/s; 0.5 ms was no better."""
OPEN_FILES_WANTED = 4096
"""Descriptors the server needs: one per connection, plus uploads' temp files and the index."""


def create_app(settings: Settings | None = None, engine: Engine | None = None) -> Flask:
    settings = settings or Settings.load()
    app = Flask(__name__, static_folder=None)
    app.config.update(WEB_DIR=settings.web_dir or WEB_DIR, MAX_CONTENT_LENGTH=MAX_BODY_BYTES, LOG_REQUESTS=False)
    app.extensions["qa"] = EngineSlot(settings, engine)
    if settings.admin_token is not None:
        uploads.start_jobs(app, settings)
    feedback.init_feedback(app, settings)
    for blueprint in (ask.blueprint, uploads.blueprint, feedback.blueprint, docs.blueprint, page):
        app.register_blueprint(blueprint)  # uploads always: its routes say 404 while uploads are off
    register_error_handlers(app)
    app.after_request(_finish)
    return app


def close_app(app: Flask) -> None:
    """Stop what the app started: the upload queue (after the job running) and the engine it opened itself,
    with its threads. An engine passed to create_app belongs to the caller, who closes it."""
    jobs = app.extensions.pop("qa_jobs", None)
    if jobs is not None:
        jobs.close()
    app.extensions["qa"].close()


def serve(
    settings: Settings,
    host: str = "127.0.0.1",
    port: int = 8000,
    dev: bool = False,
    on_ready: Callable[[str], None] | None = None,
) -> None:
    """Waitress (WAITRESS, with `settings.serve_threads` threads), or Flask's debug server (auto-reload) with dev=True.

    `on_ready` gets the page's URL once the model and index are loaded and the port is bound. Each
    request embeds its question on its own thread (one onnxruntime thread each): on 2 cores, requests
    in parallel use the cores better than one request spread over both (README, Performance)."""
    app = create_app(settings)
    app.config["LOG_REQUESTS"] = True
    try:
        page_dir(app)  # a server without its page says so at once, before loading anything
    except PageMissing:
        close_app(app)
        raise
    url = f"http://{host}:{port}/"
    if dev:
        if on_ready:
            on_ready(url)
        try:
            app.run(host=host, port=port, debug=True)
        finally:
            close_app(app)
        return
    try:
        app.extensions["qa"].get().status()  # load model and index now, not on the first question
    except QAError as exc:
        logger.warning("启动时没有可用的索引（%s）：%s", exc.code, exc.message)
    # waitress warns "Task queue depth is N" for every request that waits for a thread: a line per request
    # under ordinary load (more clients than threads), in English; the queue is measured by the benchmark instead.
    logging.getLogger("waitress.queue").setLevel(logging.ERROR)
    server = make_server(app, host, port, settings.serve_threads)
    logger.info("服务地址 %s", url)
    record = f"http://{'127.0.0.1' if host in ('0.0.0.0', '::', '') else host}:{port}"
    write_server_record(settings.index_dir, record)  # lets `qa ask` use this server, and builds give way to it
    if on_ready:
        on_ready(url)
    previous = signal.signal(signal.SIGTERM, _stop_on_sigterm)  # `kill` (and systemd) stop it like Ctrl-C
    interval = sys.getswitchinterval()
    sys.setswitchinterval(SWITCH_INTERVAL_SECONDS)
    try:
        server.run()
    except KeyboardInterrupt:
        logger.info("服务器已停止")
    finally:
        remove_server_record(settings.index_dir)
        signal.signal(signal.SIGTERM, previous)
        sys.setswitchinterval(interval)
        close_app(app)


def make_server(app: Flask, host: str, port: int, threads: int):
    """The waitress server `serve()` runs: WAITRESS with `threads` threads, and what waitress refuses on its
    own (a body over the limit, before it is read) answered as the API's JSON errors."""
    import waitress

    from .refusals import JsonErrorChannel

    sockets: dict = {}  # waitress's socket map: one listening server per address (e.g. IPv4 and IPv6)
    server = waitress.create_server(app, map=sockets, host=host, port=port, **_waitress_settings(threads))
    for listener in list(sockets.values()):
        listener.channel_class = JsonErrorChannel  # what each accepted connection is served by
    return server


def _stop_on_sigterm(signum, frame) -> None:
    raise KeyboardInterrupt


def _waitress_settings(threads: int) -> dict:
    """WAITRESS with `threads` threads, and the connection limit cut to what the process may open."""
    import resource

    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    wanted = OPEN_FILES_WANTED if hard == resource.RLIM_INFINITY else min(OPEN_FILES_WANTED, hard)
    if soft != resource.RLIM_INFINITY and soft < wanted:
        resource.setrlimit(resource.RLIMIT_NOFILE, (wanted, hard))
        soft = wanted
    limit = min(WAITRESS["connection_limit"], max(64, soft - 100))
    if limit < WAITRESS["connection_limit"]:
        logger.warning("只允许打开 %d 个文件：同时最多服务 %d 个连接", soft, limit)
    return {**WAITRESS, "threads": threads, "connection_limit": limit}


# ---- the web page ------------------------------------------------------------------------

page = Blueprint("page", __name__)


def _web_dir() -> Path:
    return page_dir(current_app)


@page.get("/")
@page.get("/articles/<path:article_id>")
def index(article_id: str | None = None) -> Response:
    # The page itself loads the article through the API, so it works before an index exists.
    return send_from_directory(_web_dir(), "index.html")


@page.get("/static/<path:filename>")
def static_file(filename: str) -> Response:
    return send_from_directory(_web_dir(), filename)


def _finish(response: Response) -> Response:
    for name, value in SECURITY_HEADERS.items():
        response.headers.setdefault(name, value)  # /api/docs sets its own policy
    if current_app.config["LOG_REQUESTS"]:
        logger.info("%s %s %d", request.method, request.full_path.rstrip("?"), response.status_code)
    return response
