"""`qa eval`: recall@1/@5, answer accuracy, no-answer accuracy and false rejects on a JSONL file of
questions in the format of the dev set ({question, answer, article, type, also?})."""

from __future__ import annotations

import json
import re
from collections import defaultdict
from pathlib import Path

from .errors import BadQuestion


def load_questions(path: Path) -> list[dict]:
    rows = []
    for n, line in enumerate(path.read_text(encoding="utf-8").splitlines(), start=1):
        if not line.strip():
            continue
        try:
            row = json.loads(line)
        except ValueError as exc:
            raise BadQuestion(f"{path.name} 第 {n} 行不是 JSON（{exc}）") from None
        if not isinstance(row, dict) or not isinstance(row.get("question"), str):
            raise BadQuestion(f"{path.name} 第 {n} 行缺少字符串字段 question")
        rows.append(row)
    return rows


def _squash(text: str | None) -> str:
    return re.sub(r"\s+", "", text or "")


def _judge(row: dict, result) -> dict:
    gold_titles = {_squash(row.get("article"))} | {_squash(a.get("article")) for a in row.get("also") or []}
    gold_titles.discard("")
    cited = [_squash(c.article_title) for c in result.citations]
    answerable = row.get("type") != "unanswerable" and row.get("answer") is not None
    judged = {"id": row.get("id"), "type": row.get("type", "other"), "question": row["question"],
              "answerable": answerable, "found": result.found, "answer": result.text}
    if answerable:
        judged["hit@1"] = bool(cited[:1]) and cited[0] in gold_titles
        judged["hit@5"] = any(t in gold_titles for t in cited[:5])
        gold = _squash(row["answer"])
        correct = result.found and gold in _squash(result.text)
        if row.get("type") == "issue" and result.citations:
            top = result.citations[0]
            correct = correct or gold in (_squash(top.issue_label), _squash(top.article_title))
        judged["correct"] = bool(correct)
        judged["false_reject"] = not result.found
    else:
        judged["correct"] = not result.found
    return judged


def evaluate(engine, rows: list[dict], mode: str = "hybrid") -> dict:
    judged = [_judge(row, engine.ask(row["question"], mode=mode)) for row in rows]
    answerable = [j for j in judged if j["answerable"]]
    unanswerable = [j for j in judged if not j["answerable"]]

    def share(items, key):
        return round(sum(1 for j in items if j[key]) / len(items), 3) if items else None

    by_type = defaultdict(list)
    for j in judged:
        by_type[j["type"]].append(j)
    return {
        "mode": mode,
        "questions": len(judged),
        "recall@1": share(answerable, "hit@1"),
        "recall@5": share(answerable, "hit@5"),
        "answer_accuracy": share(answerable, "correct"),
        "no_answer_accuracy": share(unanswerable, "correct"),
        "false_reject_rate": share(answerable, "false_reject"),
        "by_type": {t: {"n": len(items), "correct": share(items, "correct")} for t, items in sorted(by_type.items())},
        "misses": [j for j in judged if not j["correct"] or (j["answerable"] and not j["hit@5"])],
    }


def format_report(report: dict) -> str:
    def pct(value):
        return "—" if value is None else f"{value:.1%}"

    lines = [
        f"mode {report['mode']} · {report['questions']} questions",
        f"  recall@1            {pct(report['recall@1'])}",
        f"  recall@5            {pct(report['recall@5'])}",
        f"  answer accuracy     {pct(report['answer_accuracy'])}",
        f"  no-answer accuracy  {pct(report['no_answer_accuracy'])}",
        f"  false-reject rate   {pct(report['false_reject_rate'])}",
        "  by type: " + ", ".join(f"{t} {pct(v['correct'])} ({v['n']})" for t, v in report["by_type"].items()),
    ]
    if report["misses"]:
        lines.append("  misses:")
        for miss in report["misses"]:
            got = miss["answer"] if miss["found"] else "(not found)"
            lines.append(f"    {miss['id']} [{miss['type']}] {miss['question']} → {got}")
    return "\n".join(lines)
