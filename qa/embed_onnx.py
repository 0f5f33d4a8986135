"""Embedding with onnxruntime: the int8 model qa.model exported, tokenized by sentencepiece (or the `tokenizers`
library for a model directory of your own), and no torch.

Reads from a model directory: `onnx/qa_onnx.json`, the record of the export, whose files (the ONNX model, the
tokenizer) are checked against their sha256 before loading, so a corrupt file is refused, never served; the
pooling config, `max_seq_length` and the prompts. Texts → L2-normalized float32 vectors, as the torch path.
"""

from __future__ import annotations

import hashlib
import json
import re
from pathlib import Path
from typing import Sequence

import numpy as np

from qa.embed import ONNX_INT8, looks_like_e5, normalized_rows, role_prefixes
from qa.errors import ModelUnavailable
from qa.model.onnx_export import ONNX_FILE, ONNX_RECORD
from qa.model.spm_tokenizer import SPM_MODEL, SPM_NORMALIZER

_SPACES = re.compile(" {2,}")


def _read_json(path: Path, default: dict | list | None = None) -> dict | list:
    if default is not None and not path.is_file():
        return default
    try:
        return json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError) as exc:
        raise ModelUnavailable(f"无法读取 {path}：{exc}") from exc


def file_record(path: Path) -> dict:
    """Size and sha256 of a file, as the export record keeps them."""
    try:
        with open(path, "rb") as handle:
            digest = hashlib.file_digest(handle, "sha256").hexdigest()
        return {"bytes": path.stat().st_size, "sha256": digest}
    except OSError as exc:
        raise ModelUnavailable(f"无法读取 {path}：{exc.strerror}") from exc


def check_files(model_dir: Path, record: dict) -> None:
    """Every file the export record lists must still have its recorded size and sha256."""
    for relative_path, expected in record.get("files", {}).items():
        if file_record(model_dir / relative_path) != expected:
            raise ModelUnavailable(
                f"{model_dir / relative_path} 与 {ONNX_RECORD} 的记录不符（已损坏或被替换）：删除 {model_dir} "
                "让默认模型重新转换，或用 python -m qa.model export 重新导出你自己的模型"
            )


class SentencePieceTokens:
    """`tokenizer.json`'s pipeline on sentencepiece: normalize, collapse runs of spaces, Metaspace, Unigram."""

    def __init__(self, model_dir: Path, max_tokens: int):
        import sentencepiece

        self._normalizer = sentencepiece.SentencePieceNormalizer(model_file=str(model_dir / SPM_NORMALIZER))
        self._processor = sentencepiece.SentencePieceProcessor(model_file=str(model_dir / SPM_MODEL))
        self._lone_space = [self._processor.piece_to_id("▁")]
        self._bos, self._eos, self._room = self._processor.bos_id(), self._processor.eos_id(), max_tokens - 2

    def _collapsed(self, text: str) -> str:
        return _SPACES.sub(" ", self._normalizer.normalize(text))

    def encode(self, texts: Sequence[str]) -> list[list[int]]:
        collapsed = [self._collapsed(text) for text in texts]
        # Metaspace puts "▁" before the first word unless the text starts with a space; sentencepiece always
        # does, so a leading space is dropped here and comes back as that "▁" (a text of one space is that "▁").
        prepared = [text.removeprefix(" ") for text in collapsed]
        # One text (a question) is encoded directly: the list form starts a thread pool each call.
        pieces = [self._processor.encode(prepared[0])] if len(prepared) == 1 else self._processor.encode(prepared)
        return [
            [self._bos, *(self._lone_space if text == " " else ids)[: self._room], self._eos]
            for text, ids in zip(collapsed, pieces)
        ]


class HuggingFaceTokens:
    """`tokenizer.json` through the `tokenizers` library, for model directories without sentencepiece files."""

    def __init__(self, model_dir: Path, max_tokens: int):
        from tokenizers import Tokenizer

        self._tokenizer = Tokenizer.from_file(str(model_dir / "tokenizer.json"))
        self._tokenizer.enable_truncation(max_tokens)
        self._tokenizer.no_padding()

    def encode(self, texts: Sequence[str]) -> list[list[int]]:
        return [encoding.ids for encoding in self._tokenizer.encode_batch(list(texts))]


def _pooling(model_dir: Path) -> str:
    """'mean' or 'cls', from the directory's Pooling module; anything else needs the torch runtime."""
    modules = _read_json(model_dir / "modules.json", default=[])
    pooling_dirs = [module.get("path", "") for module in modules if str(module.get("type", "")).endswith("Pooling")]
    config = _read_json(model_dir / pooling_dirs[0] / "config.json") if pooling_dirs else {"pooling_mode": "mean"}
    mode = config.get("pooling_mode") or (
        "cls" if config.get("pooling_mode_cls_token") else "mean" if config.get("pooling_mode_mean_tokens") else None
    )
    if mode not in ("mean", "cls") or config.get("include_prompt", True) is False:
        raise ModelUnavailable(f"{model_dir}：ONNX 运行时不支持池化方式 {mode!r}；"
                               "请设置 QA_EMBED_RUNTIME=torch")
    return mode


def _session(model: Path, threads: int):
    import onnxruntime

    options = onnxruntime.SessionOptions()
    options.intra_op_num_threads = threads
    options.inter_op_num_threads = 1
    options.log_severity_level = 3
    # Idle pool threads spinning for work would take CPU from the other requests and the other processes.
    options.add_session_config_entry("session.intra_op.allow_spinning", "0")
    try:
        # From the path, not from bytes: onnxruntime then keeps ~110 MB less resident.
        return onnxruntime.InferenceSession(str(model), options, providers=["CPUExecutionProvider"])
    except Exception as exc:  # onnxruntime raises its own exception types for unreadable graphs
        raise ModelUnavailable(f"onnxruntime 无法加载 {model}：{exc}") from exc


class OnnxEmbedder:
    """The int8 ONNX model of a model directory on CPU, with the directory's own tokenizer and prompts."""

    runtime = ONNX_INT8

    def __init__(self, model_dir: Path, name: str, threads: int = 1, verified: bool = False):
        """`verified`: the caller has just written and checked the files (the export), so no record exists yet."""
        model_dir = Path(model_dir)
        if not verified:
            check_files(model_dir, _read_json(model_dir / ONNX_RECORD))
        self.name = name
        config = _read_json(model_dir / "config.json")
        self.dimension = int(config["hidden_size"])
        max_tokens = int(_read_json(model_dir / "sentence_bert_config.json", default={}).get("max_seq_length") or 512)
        if (model_dir / SPM_MODEL).is_file():
            self._tokens = SentencePieceTokens(model_dir, max_tokens)
        else:
            self._tokens = HuggingFaceTokens(model_dir, max_tokens)
        self._pooling = _pooling(model_dir)
        self._session = _session(model_dir / ONNX_FILE, threads)
        saved = _read_json(model_dir / "config_sentence_transformers.json", default={})
        self._prefixes = role_prefixes(saved.get("prompts") or {}, looks_like_e5(name, model_dir))

    def prefix(self, role: str) -> str:
        return self._prefixes[role]

    def token_ids(self, texts: Sequence[str], role: str) -> list[list[int]]:
        prefix = self._prefixes[role]
        return self._tokens.encode([prefix + text for text in texts])

    def _forward(self, token_ids: Sequence[int]) -> np.ndarray:
        """One text's vector. Texts go one at a time, never batched: the int8 model quantizes activations with
        one scale per input tensor, so in a batch a text's vector would depend on its batchmates (an add would
        then give other vectors than a full build). Alone, they are no slower on 2 cores (README, Performance)."""
        input_ids = np.asarray([token_ids], dtype=np.int64)
        mask = np.ones_like(input_ids)
        tokens = self._session.run(None, {"input_ids": input_ids, "attention_mask": mask})[0][0]
        vector = tokens[0] if self._pooling == "cls" else tokens.mean(axis=0)
        return normalized_rows(vector[None, :])[0]

    def embed_passages(self, texts: Sequence[str], progress: bool = False) -> np.ndarray:
        vectors = np.zeros((len(texts), self.dimension), dtype=np.float32)
        encoded = self.token_ids(texts, "passage") if texts else []
        rows = range(len(encoded))
        if progress and encoded:
            from tqdm import tqdm

            rows = tqdm(rows, desc="嵌入", unit="段", mininterval=0.5)
        for row in rows:
            vectors[row] = self._forward(encoded[row])
        return vectors

    def embed_query(self, text: str) -> np.ndarray:
        return self._forward(self.token_ids([text], "query")[0])
