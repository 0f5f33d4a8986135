"""Read an untrusted bulletin in a child process, with a time limit and a memory limit: a file that
stalls the reader or swells in memory (a .docx bomb, a hostile PDF) fails its own upload in bounded
time and never touches the server's memory or queue. The issue the child read is handed to the build,
so the file is read once (a scan is recognised once).

`python -m qa.vet FILE [LABEL]` is the child: it prints the issue it read as JSON.
"""

from __future__ import annotations

import json
import os
import resource
import subprocess
import sys
from dataclasses import asdict
from pathlib import Path

from .errors import BadBulletin
from .ingest import IMAGE_SUFFIXES, limits
from .schema import Article, Issue

VET_SECONDS = 60.0
"""Wall-clock limit for reading a file's text; a monthly bulletin (txt, text PDF, docx) takes 0.3–4 s."""
VET_MEMORY_BYTES = 3 * 1024**3
"""Address space of the child: text files need ~20 MB of RSS, OCR ~700 MB (its runtime reserves
~1.5 GB of address space; 1 GB is too little)."""
_BAD_BULLETIN, _OUT_OF_MEMORY = 2, 3


def time_limit(path: Path) -> float:
    """VET_SECONDS, plus OCR's own budget for a file that may hold scanned pages."""
    may_need_ocr = path.suffix.lower() in (".pdf", *IMAGE_SUFFIXES)
    return VET_SECONDS + (limits.OCR_SECONDS_PER_FILE if may_need_ocr else 0.0)


def read_untrusted(path: Path, label: str | None = None, *, seconds: float | None = None) -> Issue:
    """The issue the file parses to; BadBulletin naming the file when it does not parse, takes longer
    than `seconds` (default `time_limit`), or needs more memory than VET_MEMORY_BYTES."""
    seconds = time_limit(path) if seconds is None else seconds
    command = [sys.executable, "-m", "qa.vet", str(path), *([label] if label else [])]
    try:
        child = subprocess.run(command, capture_output=True, text=True, timeout=seconds, env=_child_environment())
    except subprocess.TimeoutExpired:
        raise BadBulletin(f"{path.name}：读取超过 {seconds:g} 秒仍未完成（一期简报只需几秒），文件已损坏或"
                          "是有意拖慢读取的文件") from None
    if child.returncode == 0:
        return _issue_of(json.loads(child.stdout))
    if child.returncode == _BAD_BULLETIN:
        raise BadBulletin(child.stderr.strip().splitlines()[-1])
    if child.returncode == _OUT_OF_MEMORY or child.returncode < 0:
        raise BadBulletin(f"{path.name}：读取需要超过 {VET_MEMORY_BYTES // 2**20} MB 内存，文件已损坏或"
                          "是有意耗尽内存的文件")
    raise BadBulletin(f"{path.name} 无法读取（读取进程以代码 {child.returncode} 退出）")


def _issue_of(row: dict) -> Issue:
    articles = tuple(Article(**article) for article in row.pop("articles"))
    return Issue(**row, articles=articles)


def _child_environment() -> dict[str, str]:
    environment = {key: value for key, value in os.environ.items() if key != "QA_ADMIN_TOKEN"}
    return environment | {"QA_VET_MEMORY": str(VET_MEMORY_BYTES)}


def _child(argv: list[str]) -> int:
    memory = int(os.environ.get("QA_VET_MEMORY", VET_MEMORY_BYTES))
    _, hard = resource.getrlimit(resource.RLIMIT_AS)
    limit = memory if hard == resource.RLIM_INFINITY else min(memory, hard)
    resource.setrlimit(resource.RLIMIT_AS, (limit, hard))
    os.nice(10)  # the server's request threads come first
    from .corpus import read_issue

    try:
        issue = read_issue(Path(argv[0]), argv[1] if len(argv) > 1 else None)
    except BadBulletin as exc:
        print(exc.message, file=sys.stderr)
        return _BAD_BULLETIN
    except MemoryError:
        return _OUT_OF_MEMORY
    print(json.dumps(asdict(issue), ensure_ascii=False))
    return 0


if __name__ == "__main__":
    sys.exit(_child(sys.argv[1:]))
