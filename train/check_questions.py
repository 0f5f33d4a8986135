"""Check labelled question files: every gold answer and evidence verbatim in its bulletin file.

    python train/check_questions.py FILE.jsonl [FILE.jsonl ...] [--seeds DIR ...]

Standard library only, and independent of the `qa` package on purpose: the people who write
questions read the bulletin texts and this checker, never the answer code. "Verbatim" ignores
whitespace (the bulletins wrap lines mid-sentence) and full-width digits (`６２.３` is 62.3, as the
product reads it), nothing else.
"""

from __future__ import annotations

import argparse
import json
import re
import sys
from collections import Counter
from pathlib import Path

TYPES = ("number", "entity", "how", "paraphrase", "unanswerable", "multi", "issue")
NEAR_MISS = ("other_period", "metric_absent", "district", "place_absent")
ROOT = Path(__file__).resolve().parent.parent
DEFAULT_SEEDS = (ROOT / "seeds", ROOT / "train" / "bulletins")


_FULL_WIDTH = str.maketrans({chr(code): chr(code - 0xFEE0) for code in (*range(0xFF10, 0xFF1A), 0xFF05)})


def squash(text: str) -> str:
    return re.sub(r"(?<=\d)．(?=\d)", ".", re.sub(r"\s+", "", text).translate(_FULL_WIDTH))


def load_files(dirs: list[Path]) -> dict[str, str]:
    texts = {}
    for folder in dirs:
        if folder.is_dir():
            for path in sorted(folder.iterdir()):
                if path.suffix in (".txt", ".md"):
                    texts[path.name] = squash(path.read_text(encoding="utf-8"))
    return texts


def check_row(row: dict, texts: dict[str, str]) -> list[str]:
    problems = []
    kind = row.get("type")
    if kind not in TYPES:
        return [f"type must be one of {', '.join(TYPES)}"]
    if not isinstance(row.get("question"), str) or not row["question"].strip():
        problems.append("question must be a non-empty string")
    if kind == "unanswerable":
        if any(row.get(k) is not None for k in ("file", "article", "answer", "evidence")):
            problems.append("unanswerable rows have file, article, answer and evidence null")
        if row.get("near_miss") not in NEAR_MISS:
            problems.append(f"unanswerable rows need near_miss: one of {', '.join(NEAR_MISS)}")
        near = row.get("near")
        if near is not None:
            problems += [f"near: {p}" for p in _check_place(near, texts, need_answer=False)]
        return problems
    problems += _check_place(row, texts, need_answer=True)
    if kind == "multi":
        also = row.get("also")
        if not isinstance(also, list) or not also:
            problems.append("multi rows need also: [{file, article, evidence}, …] for the other article(s)")
        else:
            for other in also:
                problems += [f"also: {p}" for p in _check_place(other, texts, need_answer=False)]
    return problems


def _check_place(row: dict, texts: dict[str, str], need_answer: bool) -> list[str]:
    problems = []
    name = row.get("file")
    if name not in texts:
        return [f"file {name!r} is not a known bulletin"]
    text = texts[name]
    for key in ("article", "evidence") + (("answer",) if need_answer else ()):
        value = row.get(key)
        if not isinstance(value, str) or not squash(value):
            problems.append(f"{key} must be a non-empty string")
        elif squash(value) not in text:
            problems.append(f"{key} is not verbatim in {name}: {value!r}")
    answer, evidence = row.get("answer"), row.get("evidence")
    if need_answer and isinstance(answer, str) and isinstance(evidence, str) and squash(answer) not in squash(evidence):
        problems.append("answer must lie inside evidence")
    return problems


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("files", nargs="+", type=Path)
    parser.add_argument("--seeds", action="append", type=Path, help="bulletin folder (repeatable)")
    args = parser.parse_args(argv)
    texts = load_files(args.seeds or list(DEFAULT_SEEDS))
    failed, ids, kinds = 0, Counter(), Counter()
    for path in args.files:
        for n, line in enumerate(path.read_text(encoding="utf-8").splitlines(), start=1):
            if not line.strip():
                continue
            try:
                row = json.loads(line)
            except ValueError as exc:
                print(f"{path.name}:{n}: not JSON ({exc})")
                failed += 1
                continue
            ids[row.get("id")] += 1
            kinds[row.get("type")] += 1
            for problem in check_row(row, texts):
                print(f"{path.name}:{n} [{row.get('id')}]: {problem}")
                failed += 1
    for dup, count in ids.items():
        if count > 1:
            print(f"id {dup!r} is used {count} times")
            failed += 1
    print(f"{sum(kinds.values())} questions: " + ", ".join(f"{k} {v}" for k, v in sorted(kinds.items())))
    print("all gold spans verbatim" if not failed else f"{failed} problem(s)")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
