"""Fidelity benchmark: the fixture bulletins rendered as text PDFs, image-only scans and Word files,
read back and compared with their plain-text version. Never run by tests.

    python -m bench.fidelity [--dpi 150] [--json]      (or: make bench-fidelity)

Prints, per form: article titles exact, character-level similarity of article texts to the text
version, `qa eval`-style answer accuracy on questions about the bulletins (an index is built per
form with the configured model), and seconds per page (wall and CPU).
"""

from __future__ import annotations

import argparse
import json
import logging
import tempfile
import time
from dataclasses import replace
from difflib import SequenceMatcher
from pathlib import Path

from qa.build import build
from qa.config import Settings
from qa.corpus import parse_bulletin, read_issue
from qa.embed import load_embedder
from qa.engine import BulletinEngine
from qa.evaluate import evaluate

from .fixture_bulletins import BULLETINS, QUESTIONS
from .render import bulletin_text, write_docx, write_scan_pdf, write_text_pdf

FORMS = ("text", "pdf", "scan", "docx")
TARGETS = {"pdf": (0.99, 0), "scan": (0.97, 1), "docx": (0.99, 0)}  # similarity, questions lost at most
SCAN_SECONDS_PER_PAGE = 5.0


def _write(form: str, key: str, folder: Path, dpi: int) -> tuple[Path, int]:
    spec = BULLETINS[key]
    if form == "text":
        path = folder / f"{key}.txt"
        path.write_text(bulletin_text(spec), encoding="utf-8")
        return path, 0
    if form == "docx":
        path = folder / f"{key}.docx"
        write_docx(spec, path)
        return path, 0
    path = folder / f"{key}.pdf"
    pages = write_text_pdf(spec, path) if form == "pdf" else write_scan_pdf(spec, path, dpi=dpi)
    return path, pages


def _similarity(a: str, b: str) -> float:
    return SequenceMatcher(None, a, b, autojunk=False).ratio()


def measure_form(form: str, root: Path, dpi: int, embedder) -> dict:
    seeds, index = root / form / "seeds", root / form / "index"
    seeds.mkdir(parents=True)
    titles_exact = titles_total = pages = 0
    similarities: list[float] = []
    wall = cpu = 0.0
    for key, spec in BULLETINS.items():
        path, page_count = _write(form, key, seeds, dpi)
        reference = parse_bulletin(bulletin_text(spec), f"{key}.txt")
        started, started_cpu = time.perf_counter(), time.process_time()
        issue = read_issue(path)
        wall += time.perf_counter() - started
        cpu += time.process_time() - started_cpu
        pages += page_count
        got = {a.title: a for a in issue.articles}
        titles_total += len(reference.articles)
        for want in reference.articles:
            titles_exact += want.title in got
            match = got.get(want.title) or max(issue.articles, key=lambda a: _similarity(a.text, want.text))
            similarities.append(_similarity(match.text, want.text))
        if len(issue.articles) != len(reference.articles):
            titles_exact -= abs(len(issue.articles) - len(reference.articles))  # extra articles count against
    settings = replace(Settings.load(), seeds_dir=seeds, index_dir=index)
    build(settings, embedder)
    rows = [{"id": f"q{n}", "question": q, "answer": a, "article": t, "type": "number"}
            for n, (q, a, t) in enumerate(QUESTIONS, start=1)]
    try:
        with BulletinEngine(settings, embedder) as engine:
            report = evaluate(engine, rows)
        correct, misses = round(report["answer_accuracy"] * len(rows)), report["misses"]
    except Exception as exc:  # the answer stage is being rewritten: still report how well the form was read
        logging.getLogger(__name__).warning("%s: answering failed (%s: %s)", form, type(exc).__name__, exc)
        correct, misses = None, []
    return {
        "form": form,
        "titles_exact": titles_exact,
        "titles": titles_total,
        "similarity_min": round(min(similarities), 4),
        "similarity_mean": round(sum(similarities) / len(similarities), 4),
        "correct": correct,
        "questions": len(rows),
        "pages": pages,
        "seconds_per_page": round(wall / pages, 2) if pages else None,
        "cpu_seconds_per_page": round(cpu / pages, 2) if pages else None,
        "seconds": round(wall, 2),
        "misses": [m["question"] for m in misses if not m["correct"]],
    }


def _verdict(row: dict, text_correct: int) -> str:
    if row["form"] == "text":
        return "reference"
    similarity, lost = TARGETS[row["form"]]
    answered = row["correct"] is None or text_correct is None or row["correct"] >= text_correct - lost
    ok = row["titles_exact"] == row["titles"] and row["similarity_min"] >= similarity and answered
    if row["form"] == "scan":
        ok = ok and row["seconds_per_page"] is not None and row["seconds_per_page"] <= SCAN_SECONDS_PER_PAGE
    return "✓" if ok else "✗"


def format_table(rows: list[dict], dpi: int) -> str:
    text_correct = next(r["correct"] for r in rows if r["form"] == "text")
    lines = [
        f"fidelity of each form against the plain-text version ({len(BULLETINS)} bulletins; scans at {dpi} dpi)",
        "| form | titles exact | text similarity min / mean | answers correct | s per page (wall / CPU) | target |",
        "|---|---|---|---|---|---|",
    ]
    for row in rows:
        per_page = "—" if row["pages"] == 0 else f"{row['seconds_per_page']:.2f} / {row['cpu_seconds_per_page']:.2f}"
        lines.append(f"| {row['form']} | {row['titles_exact']}/{row['titles']} | "
                     f"{row['similarity_min']:.4f} / {row['similarity_mean']:.4f} | "
                     f"{'n/a' if row['correct'] is None else row['correct']}/{row['questions']} | "
                     f"{per_page} ({row['pages']} pages) | "
                     f"{_verdict(row, text_correct)} |")
    for row in rows:
        if row["misses"]:
            lines.append(f"  {row['form']} misses: " + "；".join(row["misses"]))
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--dpi", type=int, default=150)
    parser.add_argument("--forms", nargs="+", choices=FORMS, default=list(FORMS))
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args()
    logging.basicConfig(level=logging.WARNING)
    forms = ["text", *[form for form in args.forms if form != "text"]]
    embedder = load_embedder(Settings.load())
    with tempfile.TemporaryDirectory(prefix="qa-fidelity-") as root:
        rows = [measure_form(form, Path(root), args.dpi, embedder) for form in forms]
    print(json.dumps(rows, ensure_ascii=False, indent=2) if args.json else format_table(rows, args.dpi))


if __name__ == "__main__":
    main()
