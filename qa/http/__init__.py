"""The HTTP layer: `create_app` (the factory) and `serve`; ask routes (ask.py), upload/jobs routes
(uploads.py), feedback (feedback.py), error handlers (errors.py), and the OpenAPI document generated
from the routes' own models (routing.py, openapi.py, docs.py). models.py is Flask-free: the
command line uses it for `qa ask --json`."""

from __future__ import annotations

from typing import Any


def __getattr__(name: str) -> Any:  # importing qa.http.models must not import Flask
    if name in ("create_app", "serve"):
        from . import app

        return getattr(app, name)
    raise AttributeError(name)
