"""The reader's trained weights (weights.json): plain numbers you can read and diff — feature
names, scaling, coefficients, the calibration and the thresholds chosen on held-out folds.
Loaded with numpy only; `qa train` writes the file."""

from __future__ import annotations

import json
from dataclasses import dataclass
from functools import lru_cache
from importlib import resources
from pathlib import Path

import numpy as np

from ..errors import QAError

WEIGHTS_FILE = "weights.json"


class ReaderUnavailable(QAError):
    pass


@dataclass(frozen=True)
class LinearModel:
    """Standardize → linear score → (optional) sigmoid calibration: p = 1 / (1 + exp(a·s + b))."""

    features: tuple[str, ...]
    mean: np.ndarray
    scale: np.ndarray
    coef: np.ndarray
    intercept: float
    calibration: tuple[float, float] | None = None

    def scores(self, rows: np.ndarray) -> np.ndarray:
        if not len(rows):
            return np.zeros(0)
        return ((rows - self.mean) / self.scale) @ self.coef + self.intercept

    def probabilities(self, rows: np.ndarray) -> np.ndarray:
        scores = self.scores(rows)
        if self.calibration is None:
            return 1.0 / (1.0 + np.exp(-scores))
        a, b = self.calibration
        return 1.0 / (1.0 + np.exp(a * scores + b))

    def to_json(self) -> dict:
        return {
            "features": list(self.features),
            "mean": [round(float(v), 6) for v in self.mean],
            "scale": [round(float(v), 6) for v in self.scale],
            "coef": [round(float(v), 6) for v in self.coef],
            "intercept": round(float(self.intercept), 6),
            "calibration": None if self.calibration is None else [round(float(v), 6) for v in self.calibration],
        }

    @classmethod
    def from_json(cls, data: dict) -> "LinearModel":
        return cls(
            features=tuple(data["features"]),
            mean=np.asarray(data["mean"], dtype=np.float64),
            scale=np.asarray(data["scale"], dtype=np.float64),
            coef=np.asarray(data["coef"], dtype=np.float64),
            intercept=float(data["intercept"]),
            calibration=tuple(data["calibration"]) if data.get("calibration") else None,
        )


@dataclass(frozen=True)
class Weights:
    version: str  # recorded in the build manifest and shown by /healthz
    sentence: LinearModel  # does this sentence hold the answer?
    span: LinearModel  # does this clause window hold it (tightly)?
    answer: LinearModel  # is the answer shown right? — calibrated: this is the confidence
    answerable: LinearModel  # do the bulletins answer the question at all? — calibrated, on the answer's features
    not_found_below: float  # questions less likely answerable are "not found"
    other_period_from: float  # a sentence about another period this likely answerable is cited in the note
    confidence_words: tuple[tuple[float, str], ...]  # (lowest confidence, words), highest first
    measured: dict  # the cross-validated figures behind the thresholds

    def words_for(self, confidence: float) -> str:
        return next((words for floor, words in self.confidence_words if confidence >= floor), "把握较低")

    def to_json(self) -> dict:
        return {
            "version": self.version,
            "sentence": self.sentence.to_json(),
            "span": self.span.to_json(),
            "answer": self.answer.to_json(),
            "answerable": self.answerable.to_json(),
            "not_found_below": round(self.not_found_below, 4),
            "other_period_from": round(self.other_period_from, 4),
            "confidence_words": [[round(floor, 4), words] for floor, words in self.confidence_words],
            "measured": self.measured,
        }

    @classmethod
    def from_json(cls, data: dict) -> "Weights":
        return cls(
            version=data["version"],
            sentence=LinearModel.from_json(data["sentence"]),
            span=LinearModel.from_json(data["span"]),
            answer=LinearModel.from_json(data["answer"]),
            answerable=LinearModel.from_json(data["answerable"]),
            not_found_below=float(data["not_found_below"]),
            other_period_from=float(data["other_period_from"]),
            confidence_words=tuple((float(floor), words) for floor, words in data["confidence_words"]),
            measured=data.get("measured", {}),
        )


def weights_path() -> Path:
    return Path(str(resources.files("qa.reader").joinpath(WEIGHTS_FILE)))


@lru_cache(maxsize=4)
def load_weights(path: Path | None = None) -> Weights:
    """The committed weights (or another weights file); checked against this code's feature lists."""
    from .features import FEATURE_NAMES
    from .spans import SPAN_FEATURE_NAMES
    from .confidence import ANSWER_FEATURE_NAMES

    path = path or weights_path()
    try:
        weights = Weights.from_json(json.loads(Path(path).read_text(encoding="utf-8")))
    except (OSError, ValueError, KeyError, TypeError) as exc:
        raise ReaderUnavailable(f"cannot read the reader weights {path}: {exc}; run `qa train`") from None
    for model, names in ((weights.sentence, FEATURE_NAMES), (weights.span, SPAN_FEATURE_NAMES),
                         (weights.answer, ANSWER_FEATURE_NAMES), (weights.answerable, ANSWER_FEATURE_NAMES)):
        if model.features != names:
            raise ReaderUnavailable(f"the reader weights {path} were trained on other features; run `qa train`")
    return weights
