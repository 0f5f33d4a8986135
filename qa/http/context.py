"""What the blueprints reach through Flask's app context: the app's one engine and its
settings, the page's directory, and JSON responses."""

from __future__ import annotations

import json
import threading
from pathlib import Path
from typing import Any

from flask import Flask, Response, current_app
from pydantic import BaseModel

from ..config import Settings
from ..engine import Engine
from ..errors import PageMissing


class EngineSlot:
    """The app's one engine: the one given, or opened on first use so the app can start
    (and answer 503) before any index exists. A failed open is retried on the next request.

    An engine it opened is its own, and close() closes it; an engine given belongs to the caller."""

    def __init__(self, settings: Settings, engine: Engine | None):
        self.settings = settings
        self._engine = engine
        self._owned = None  # the engine this slot opened, if it did
        self._closed = False
        self._lock = threading.Lock()

    def get(self) -> Engine:
        if self._engine is None:
            with self._lock:
                if self._closed:
                    raise RuntimeError("the app is closed: its engine cannot be opened again")
                if self._engine is None:
                    from ..engine import open_engine

                    self._engine = self._owned = open_engine(self.settings)
        return self._engine

    def close(self) -> None:
        with self._lock:
            self._closed = True
            owned, self._owned = self._owned, None
        if owned is not None:
            owned.close()


def page_dir(app: Flask) -> Path:
    """The page's directory (app.config["WEB_DIR"]); PageMissing, saying what to do, when it is not there."""
    web_dir = Path(app.config["WEB_DIR"])
    if not (web_dir / "index.html").is_file():
        raise PageMissing(
            f"找不到网页文件（{web_dir / 'index.html'} 不存在）：网页在仓库顶层的 web/ 目录中，"
            "请在仓库中用 pip install -e . 安装（make install 即是如此），或用环境变量 QA_WEB_DIR 指明 web/ 目录"
        )
    return web_dir


def current_engine() -> Engine:
    return current_app.extensions["qa"].get()


def current_settings() -> Settings:
    return current_app.extensions["qa"].settings


def json_response(body: BaseModel | dict[str, Any], status: int = 200) -> Response:
    text = body.model_dump_json() if isinstance(body, BaseModel) else json.dumps(body, ensure_ascii=False)
    return current_app.response_class(text, status=status, mimetype="application/json")
