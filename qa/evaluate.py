"""`qa eval`: how well answers hold on a JSONL file of labelled questions (the dev/val/training
shape: {id, question, type, file, article, answer, evidence, also?}). Overall, by kind and by
source file: recall@1/5, answer accuracy, tight accuracy, no-answer accuracy, false rejects,
precision at confidence ≥ 0.8, and the confidence's AUROC."""

from __future__ import annotations

import json
from collections import defaultdict
from pathlib import Path

from .errors import BadQuestion
from .reader.gold import answerable, squash

TIGHT_SLACK = 20  # a tight answer is no longer than the gold evidence + this many characters
HIGH_CONFIDENCE = 0.8


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


def judge(row: dict, result) -> dict:
    """One question's outcome. Correct: the gold answer (whitespace ignored) is inside the answer
    text — for issue questions, the issue label or title of the answer's article."""
    gold_titles = {squash(row.get("article"))} | {squash(a.get("article")) for a in row.get("also") or []}
    gold_titles.discard("")
    cited = [squash(c.article_title) for c in result.citations]
    judged = {"id": row.get("id"), "type": row.get("type", "other"), "file": row.get("file"),
              "near_miss": row.get("near_miss"),
              "question": row["question"], "answerable": answerable(row), "found": result.found,
              "answer": result.text, "confidence": result.confidence, "message": result.message}
    if not answerable(row):
        judged["correct"] = not result.found
        return judged
    gold = squash(row["answer"])
    correct = result.found and gold in squash(result.text)
    if row.get("type") == "issue" and result.found and result.citation is not None:
        correct = correct or gold in (squash(result.citation.issue_label), squash(result.citation.article_title))
    judged.update({
        "hit@1": bool(cited[:1]) and cited[0] in gold_titles,
        "hit@5": any(t in gold_titles for t in cited[:5]),
        "correct": bool(correct),
        "tight": bool(correct) and len(squash(result.text)) <= len(squash(row.get("evidence"))) + TIGHT_SLACK,
        "false_reject": not result.found,
    })
    return judged


def evaluate(engine, rows: list[dict], mode: str = "hybrid") -> dict:
    return summarize([judge(row, engine.ask(row["question"], mode=mode)) for row in rows], mode)


def summarize(judged: list[dict], mode: str = "hybrid") -> dict:
    by_type, by_file, by_near_miss = defaultdict(list), defaultdict(list), defaultdict(list)
    for j in judged:
        by_type[j["type"]].append(j)
        if j["file"]:
            by_file[j["file"]].append(j)
        if not j["answerable"]:
            by_near_miss[j.get("near_miss") or "unlabelled"].append(j)
    return {
        "mode": mode,
        "questions": len(judged),
        **figures(judged),
        "by_type": {t: figures(items) for t, items in sorted(by_type.items())},
        "by_file": {f: figures(items) for f, items in sorted(by_file.items())},
        "by_near_miss": {k: figures(items) for k, items in sorted(by_near_miss.items())},
        "misses": [j for j in judged if not j["correct"]],
    }


def figures(judged: list[dict]) -> dict:
    answerable_ = [j for j in judged if j["answerable"]]
    unanswerable = [j for j in judged if not j["answerable"]]
    shown = [j for j in judged if j["found"]]
    confident = [j for j in shown if j["confidence"] >= HIGH_CONFIDENCE]
    right = [j["answerable"] and j["correct"] for j in judged]
    return {
        "n": len(judged),
        "recall@1": _share(answerable_, "hit@1"),
        "recall@5": _share(answerable_, "hit@5"),
        "answer_accuracy": _share(answerable_, "correct"),
        "tight_accuracy": _share(answerable_, "tight"),
        "no_answer_accuracy": _share(unanswerable, "correct"),
        "false_reject_rate": _share(answerable_, "false_reject"),
        "answered": len(shown),
        "precision@0.8": _rate([j["answerable"] and j["correct"] for j in confident]),
        "answered@0.8": len(confident),
        "auroc": auroc([j["confidence"] for j in judged], right),
    }


def _share(items: list[dict], key: str) -> float | None:
    return _rate([bool(j.get(key)) for j in items])


def _rate(flags: list[bool]) -> float | None:
    return round(sum(flags) / len(flags), 3) if flags else None


def auroc(scores: list[float], labels: list[bool]) -> float | None:
    """Probability that a right answer has a higher confidence than a wrong one (ties count ½)."""
    right = [s for s, y in zip(scores, labels) if y]
    wrong = [s for s, y in zip(scores, labels) if not y]
    if not right or not wrong:
        return None
    wins = sum((r > w) + 0.5 * (r == w) for r in right for w in wrong)
    return round(wins / (len(right) * len(wrong)), 3)


def format_report(report: dict, misses: bool = True) -> str:
    def pct(value):
        return "   —" if value is None else f"{value:5.1%}"

    def num(value):
        return "   —" if value is None else f"{value:5.3f}"

    header = (f"{'':18}{'n':>4} {'rec@1':>6} {'rec@5':>6} {'answer':>6} {'tight':>6} {'no-ans':>6} "
              f"{'f-rej':>6} {'p@0.8':>6} {'auroc':>6}")

    def line(name: str, f: dict) -> str:
        return (f"{name[:18]:18}{f['n']:>4} {pct(f['recall@1']):>6} {pct(f['recall@5']):>6} "
                f"{pct(f['answer_accuracy']):>6} {pct(f['tight_accuracy']):>6} {pct(f['no_answer_accuracy']):>6} "
                f"{pct(f['false_reject_rate']):>6} {pct(f['precision@0.8']):>6} {num(f['auroc']):>6}")

    lines = [f"mode {report['mode']} · {report['questions']} questions", header, line("all", report)]
    lines += [line(f"  {kind}", f) for kind, f in report["by_type"].items()]
    if len(report["by_near_miss"]) > 1:
        lines += [line(f"  ~{name}", f) for name, f in report["by_near_miss"].items()]
    if len(report["by_file"]) > 1:
        lines += [line(f"  {name}", f) for name, f in report["by_file"].items()]
    if misses and report["misses"]:
        lines.append("misses:")
        for miss in report["misses"]:
            got = miss["answer"] if miss["found"] else f"(not found: {miss['message']})"
            lines.append(f"  {miss['id']} [{miss['type']}] {miss['question']} → {got} ({miss['confidence']:.2f})")
    return "\n".join(lines)
