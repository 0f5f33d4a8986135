"""`qa eval --explain`: why the reader chose what it chose — the features that weighed most for the
chosen sentence and the runner-up, by name, as contributions to the sentence model's score."""

from __future__ import annotations

import numpy as np

from .features import FEATURE_NAMES, Pair, vector
from .model import LinearModel
from .read import choose

TOP = 6


def contributions(model: LinearModel, pair: Pair) -> list[tuple[str, float]]:
    """Each feature's share of the linear score (standardized value × coefficient), largest first."""
    shares = (np.array(vector(pair)) - model.mean) / model.scale * model.coef
    return sorted(zip(FEATURE_NAMES, shares.tolist()), key=lambda item: -abs(item[1]))


def explain_choice(engine, text: str, mode: str = "hybrid") -> list[str]:
    snapshot = engine.snapshot()
    question, _hits, found = engine.prepare(text, mode=mode, snapshot=snapshot)
    choice = choose(question, found, snapshot.evidence.stats, engine.weights)
    if choice is None:
        return ["（没有满足地点和时期限制的候选句子）"]
    lines = [f"把握 {choice.confidence:.3f}；候选 {choice.reading.candidates} 句，其中 {choice.reading.allowed} 句满足限制"]
    for rank, (score, pair) in enumerate(choice.scored[:2], start=1):
        top = ", ".join(f"{name} {share:+.2f}" for name, share in contributions(engine.weights.sentence, pair)[:TOP])
        lines.append(f"{rank}. [{score:+.2f}] {pair.candidate.sentence.text[:60]}")
        lines.append(f"   {top}")
    return lines
