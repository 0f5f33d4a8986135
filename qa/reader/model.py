"""The reader's trained weights (weights.json): plain numbers you can read and diff — feature
names, scaling, coefficients (or, for the span model, boosted trees as node tables), the
calibration and the thresholds chosen on held-out folds. Loaded with numpy only; `qa train`
writes the file."""

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
class TreeModel:
    """Gradient-boosted regression trees over raw features: score = base + rate · Σ leaf values.

    Each tree is a node table (arrays indexed by node; node 0 is the root): the feature and
    threshold it tests (x ≤ threshold goes left), its children (−1 at a leaf) and its value. The
    trees are padded to one shape so that every row walks every tree at once, level by level."""

    features: tuple[str, ...]
    feature: np.ndarray  # (trees, nodes) int
    threshold: np.ndarray  # (trees, nodes) float32, as the trees were fitted
    left: np.ndarray  # (trees, nodes) int, −1 at a leaf
    right: np.ndarray
    value: np.ndarray  # (trees, nodes)
    rate: float
    base: float

    def scores(self, rows: np.ndarray) -> np.ndarray:
        if not len(rows):
            return np.zeros(0)
        rows = np.asarray(rows, dtype=np.float32)
        trees = np.arange(self.feature.shape[0])[None, :]
        node = np.zeros((len(rows), self.feature.shape[0]), dtype=np.int64)
        for _ in range(self.feature.shape[1]):  # no tree is deeper than it has nodes
            leaf = self.left[trees, node] < 0
            if leaf.all():
                break
            tested = np.take_along_axis(rows, self.feature[trees, node].clip(min=0), axis=1)
            goes_left = tested <= self.threshold[trees, node]
            node = np.where(leaf, node, np.where(goes_left, self.left[trees, node], self.right[trees, node]))
        return self.base + self.rate * self.value[trees, node].sum(axis=1)

    def to_json(self) -> dict:
        trees = []
        for t in range(self.feature.shape[0]):
            size = int((self.left[t] != -2).sum())  # −2 pads a tree smaller than the largest
            trees.append({"feature": self.feature[t, :size].tolist(),
                          "threshold": [float(v) for v in self.threshold[t, :size]],
                          "left": self.left[t, :size].tolist(), "right": self.right[t, :size].tolist(),
                          "value": [round(float(v), 6) for v in self.value[t, :size]]})
        return {"features": list(self.features), "rate": self.rate, "base": round(self.base, 6), "trees": trees}

    @classmethod
    def from_json(cls, data: dict) -> "TreeModel":
        return cls.from_trees(tuple(data["features"]), data["trees"], float(data["rate"]), float(data["base"]))

    @classmethod
    def from_trees(cls, features: tuple[str, ...], trees: list[dict], rate: float, base: float) -> "TreeModel":
        """From one {feature, threshold, left, right, value} list per tree, padded to one shape and checked."""
        nodes = max(len(tree["left"]) for tree in trees)

        def table(key: str, pad, dtype) -> np.ndarray:
            return np.array([list(tree[key]) + [pad] * (nodes - len(tree[key])) for tree in trees], dtype=dtype)

        model = cls(features, table("feature", 0, np.int64), table("threshold", 0.0, np.float32),
                    table("left", -2, np.int64), table("right", -2, np.int64), table("value", 0.0, np.float64),
                    rate, base)
        model.check()
        return model

    def check(self) -> None:
        """ValueError unless every tree is well formed: children inside the tree (or −1 at a leaf, both at once),
        a known feature at every split, finite numbers — so a damaged file fails at load, not at a question."""
        sizes = (self.left != -2).sum(axis=1)
        for t, size in enumerate(sizes):
            left, right, feature = self.left[t, :size], self.right[t, :size], self.feature[t, :size]
            split = left >= 0
            if (not size or ((left == -1) != (right == -1)).any() or (left < -1).any() or (right < -1).any()
                    or (left >= size).any() or (right >= size).any()
                    or (feature[split] < 0).any() or (feature[split] >= len(self.features)).any()):
                raise ValueError(f"tree {t} is not well formed")
        if not (np.isfinite(self.value).all() and np.isfinite(self.threshold).all() and np.isfinite([self.rate, self.base]).all()):
            raise ValueError("the trees hold numbers that are not finite")


def model_from_json(data: dict) -> "LinearModel | TreeModel":
    return TreeModel.from_json(data) if "trees" in data else LinearModel.from_json(data)


@dataclass(frozen=True)
class Weights:
    version: str  # recorded in the build manifest and shown by /healthz
    sentence: LinearModel  # does this sentence hold the answer?
    span: LinearModel | TreeModel  # does this clause window hold it (tightly)? — ranks a sentence's windows
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
            span=model_from_json(data["span"]),
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
        raise ReaderUnavailable(f"无法读取阅读模型的权重 {path}：{exc}；请运行 qa train") from None
    for model, names in ((weights.sentence, FEATURE_NAMES), (weights.span, SPAN_FEATURE_NAMES),
                         (weights.answer, ANSWER_FEATURE_NAMES), (weights.answerable, ANSWER_FEATURE_NAMES)):
        if model.features != names:
            raise ReaderUnavailable(f"阅读模型的权重 {path} 是用另一组特征训练的；请运行 qa train")
    return weights
