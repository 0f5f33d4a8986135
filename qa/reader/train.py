"""`qa train`: fit the reader's models on the committed training questions, measure them by
leave-one-bulletin-out cross-validation, and write `weights.json`. Needs scikit-learn (the
`train` extra); the runtime only loads the weights. Deterministic: fixed seeds, sorted inputs."""

from __future__ import annotations

import json
import logging
import shutil
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from ..config import Settings
from ..evaluate import load_questions
from ..retrieve import Candidate
from .features import FEATURE_NAMES, Pair, pairs, vector
from .gold import answerable, gold_articles, holds_answer
from .question import Question

log = logging.getLogger(__name__)


@dataclass
class Example:
    """One labelled question as the reader sees it: its candidates, their features and labels."""

    row: dict
    group: str  # the bulletin file it is about (the cross-validation fold)
    question: Question
    candidates: list[Candidate]
    pairs: list[Pair]
    features: np.ndarray  # (candidates, features)
    labels: np.ndarray  # 1 where the candidate sentence holds the gold answer in a gold article
    gold: set[str]


def question_files(data_dir: Path) -> list[Path]:
    return sorted(data_dir.glob("*.jsonl"))


def training_settings(settings: Settings, bulletin_dirs: list[Path]) -> Settings:
    """An index of every training bulletin (the seeds and the fixture bulletins), kept in the
    model cache so retraining re-embeds only what changed."""
    seeds = settings.cache_dir / "train-seeds"
    seeds.mkdir(parents=True, exist_ok=True)
    wanted = {p.name: p for folder in bulletin_dirs for p in sorted(folder.glob("*")) if p.suffix in (".txt", ".md")}
    for stale in seeds.iterdir():
        if stale.name not in wanted:
            stale.unlink()
    for name, path in wanted.items():
        target = seeds / name
        if not target.exists() or target.read_bytes() != path.read_bytes():
            shutil.copyfile(path, target)
    for folder in bulletin_dirs:
        if (folder / "issues.json").exists():
            shutil.copyfile(folder / "issues.json", seeds / "issues.json")
    return settings.with_(seeds_dir=seeds, index_dir=settings.cache_dir / "train-index")


def make_examples(engine, rows: list[dict]) -> list[Example]:
    snapshot = engine.snapshot()
    examples = []
    for row in rows:
        question, found = engine.prepare(row["question"])
        gold = gold_articles(row, snapshot.articles) if answerable(row) else set()
        paired = pairs(question, found, snapshot.evidence.stats)
        labels = np.array([float(c.article.id in gold and holds_answer(row, c.sentence.text)) for c in found])
        features = np.array([vector(p) for p in paired]) if paired else np.zeros((0, len(FEATURE_NAMES)))
        group = row.get("file") or row["id"].split("-")[0]
        examples.append(Example(row, group, question, found, paired, features, labels, gold))
    return examples


def load_rows(data_dir: Path) -> list[dict]:
    rows = []
    for path in question_files(data_dir):
        rows += load_questions(path)
    return rows


def dump(path: Path, value) -> None:
    path.write_text(json.dumps(value, ensure_ascii=False, indent=1) + "\n", encoding="utf-8")
