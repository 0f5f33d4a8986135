"""Check an exported int8 ONNX model against the fp32 sentence-transformers model it came from, and record it.

Input: a model directory with `onnx/model_qint8.onnx` freshly written. Output: `onnx/qa_onnx.json` (size and
sha256 of the model and tokenizer files, versions, the lowest cosine seen), written only when the ONNX runtime's
tokenizer gives tokenizer.json's ids and every fixed Chinese text agrees at cosine ≥ MIN_COSINE as a query and as
a passage. Needs torch (the fp32 reference); runs at provisioning time only.
"""

from __future__ import annotations

from importlib import metadata
from pathlib import Path

import numpy as np

from qa.errors import ModelUnavailable

from .convert import write_json
from .onnx_export import ONNX_FILE, ONNX_RECORD, OPSET, export_int8
from .spm_tokenizer import SPM_MODEL, SPM_NORMALIZER

MIN_COSINE = 0.99
VERIFY_TEXTS = (
    "2023年前三季度贵州技术合同成交额是多少？",
    "2023年前三季度，贵州省高新技术产业产值4539.22亿元、同比增长13.0%，技术合同成交额428.73亿元。",
    "南京市新增国家级科技企业孵化器15家，在孵企业超过3000家；孵化器总数居全省第一。",
    "池州怎样健全科技成果捕捉机制？",
    "一是强化平台支撑，建成氢燃料电池中试基地1个、市级工程技术研究中心7家，累计引进研发团队23个。",
    "“十四五”期间，重点支持3～5个创新联合体建设，每家最高资助2000万元。",
    "GPU cluster 算力集群在上海部署，支持 large language model 训练，单卡性能提升3倍。",
    "  多余的空格\t制表符\n换行符  以及ＡＢＣ全角字母和１２３全角数字 ",
    "宜昌",
    "截至2022年8月底，黄山全市拥有高新技术企业602家，科技型中小企业入库1106家，较上年分别增长21.9%和30.4%。"
    * 12,  # longer than the model's 512 tokens: both runtimes must truncate alike
)


def _versions() -> dict[str, str]:
    return {package: metadata.version(package) for package in ("torch", "onnx", "onnxruntime", "transformers")}


def _check_tokens(model_dir: Path, candidate) -> None:
    """The ONNX runtime's tokenizer must give exactly the ids of `tokenizer.json`, which torch uses."""
    from qa.embed_onnx import HuggingFaceTokens

    reference = HuggingFaceTokens(model_dir, 512)
    for role in ("query", "passage"):
        ours = candidate.token_ids(list(VERIFY_TEXTS), role)
        theirs = reference.encode([candidate.prefix(role) + text for text in VERIFY_TEXTS])
        if ours != theirs:
            raise ModelUnavailable(f"{model_dir}：sentencepiece 分词器与 tokenizer.json 的结果不一致")


def lowest_cosine(model_dir: Path, name: str) -> float:
    """Lowest query and passage cosine between the fp32 torch model and the ONNX model over VERIFY_TEXTS."""
    from qa.embed import SentenceTransformerEmbedder
    from qa.embed_onnx import OnnxEmbedder

    reference = SentenceTransformerEmbedder(model_dir, name)
    candidate = OnnxEmbedder(model_dir, name, threads=2, verified=True)
    _check_tokens(model_dir, candidate)
    texts = list(VERIFY_TEXTS)
    passages = np.sum(reference.embed_passages(texts) * candidate.embed_passages(texts), axis=1)
    queries = [float(reference.embed_query(text) @ candidate.embed_query(text)) for text in texts]
    return float(min(passages.min(), min(queries)))


def export_and_verify(model_dir: Path, name: str) -> dict:
    """Export the int8 model into `model_dir`, verify it, and write its record last (the record marks it usable)."""
    model_dir = Path(model_dir)
    (model_dir / ONNX_RECORD).unlink(missing_ok=True)
    export_int8(model_dir)
    cosine = lowest_cosine(model_dir, name)
    if cosine < MIN_COSINE:
        (model_dir / ONNX_FILE).unlink()
        raise ModelUnavailable(
            f"{name} 的 int8 ONNX 模型与 fp32 的余弦相似度只有 {cosine:.4f}（< {MIN_COSINE}），未保留："
            "这个模型请使用 QA_EMBED_RUNTIME=torch"
        )
    from qa.embed_onnx import file_record

    files = [ONNX_FILE] + [path for path in (SPM_MODEL, SPM_NORMALIZER) if (model_dir / path).is_file()]
    if len(files) == 1:
        files.append("tokenizer.json")
    record = {
        "file": Path(ONNX_FILE).name,
        "files": {path: file_record(model_dir / path) for path in files},
        "quantization": "onnxruntime dynamic int8, per-channel weights",
        "opset": OPSET,
        "verified": {"texts": len(VERIFY_TEXTS), "min_cosine_vs_fp32": round(cosine, 5), "threshold": MIN_COSINE},
        "versions": _versions(),
    }
    write_json(model_dir / ONNX_RECORD, record)
    return record
