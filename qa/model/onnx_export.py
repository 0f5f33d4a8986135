"""Export a sentence-transformers encoder to ONNX and quantize it to int8, for onnxruntime.

Input: a sentence-transformers directory (a transformers encoder, mean or CLS pooling, optional L2 norm).
Output: `onnx/model_qint8.onnx` in that directory, mapping `input_ids` + `attention_mask` to token embeddings
(pooling and normalization stay in qa.embed_onnx, read from the directory's own configs). Needs torch: this
runs when a model is provisioned, never in a process that answers questions.
"""

from __future__ import annotations

import logging
import tempfile
import warnings
from pathlib import Path

from qa.errors import ModelUnavailable

log = logging.getLogger(__name__)

ONNX_FILE = "onnx/model_qint8.onnx"
"""Where the int8 model sits inside a model directory (sentence-transformers keeps its ONNX files in onnx/ too)."""
ONNX_RECORD = "onnx/qa_onnx.json"
"""Its size, sha256 and verification (qa.model.verify); written last, so the model counts only once verified."""
OPSET = 17
_EXPORTABLE_MODULES = {"Transformer", "Pooling", "Normalize"}


def _encoder(model_dir: Path):
    """The directory's transformers encoder in eval mode, with eager attention (it exports to plain ops)."""
    from sentence_transformers import SentenceTransformer

    model = SentenceTransformer(
        str(model_dir), device="cpu", local_files_only=True, model_kwargs={"attn_implementation": "eager"}
    )
    kinds = {type(module).__name__ for module in model}
    if not kinds <= _EXPORTABLE_MODULES:
        raise ModelUnavailable(
            f"{model_dir} 含有 ONNX 导出不支持的模块 {sorted(kinds - _EXPORTABLE_MODULES)}："
            "请配合 QA_EMBED_RUNTIME=torch 使用"
        )
    return model[0].auto_model.eval()


def _export_fp32(model_dir: Path, target: Path) -> None:
    import torch

    class TokenEmbeddings(torch.nn.Module):
        def __init__(self, encoder):
            super().__init__()
            self.encoder = encoder

        def forward(self, input_ids, attention_mask):
            return self.encoder(input_ids=input_ids, attention_mask=attention_mask).last_hidden_state

    wrapped = TokenEmbeddings(_encoder(model_dir))
    sample_ids = torch.tensor([[0, 100, 200, 300, 2], [0, 400, 2, 1, 1]], dtype=torch.long)
    sample_mask = (sample_ids != 1).long()
    axes = {"input_ids": {0: "batch", 1: "tokens"}, "attention_mask": {0: "batch", 1: "tokens"},
            "token_embeddings": {0: "batch", 1: "tokens"}}
    with warnings.catch_warnings(), torch.no_grad():
        warnings.simplefilter("ignore")  # tracer notes about Python branches that are constant for BERT
        torch.onnx.export(
            wrapped, (sample_ids, sample_mask), str(target), input_names=["input_ids", "attention_mask"],
            output_names=["token_embeddings"], dynamic_axes=axes, opset_version=OPSET, dynamo=False,
        )


def export_int8(model_dir: Path) -> Path:
    """Write `ONNX_FILE` into `model_dir`: fp32 export to a scratch file, then dynamic int8 quantization.

    Weights are quantized per output channel (per-tensor scales lose too much: cosine ≈ 0.983 against fp32
    on Chinese text, against ≥ 0.995 per channel); activations are quantized on the fly.
    """
    from onnxruntime.quantization import QuantType, quantize_dynamic

    model_dir = Path(model_dir)
    target = model_dir / ONNX_FILE
    target.parent.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(prefix=".onnx-export-", dir=model_dir) as scratch:
        fp32 = Path(scratch) / "model_fp32.onnx"
        _export_fp32(model_dir, fp32)
        root = logging.getLogger()
        level, root.level = root.level, logging.ERROR  # the quantizer advises pre-processing on every run
        try:
            quantize_dynamic(str(fp32), str(target), weight_type=QuantType.QInt8, per_channel=True)
        finally:
            root.setLevel(level)
    target.chmod(0o644)
    return target
