"""End-to-end quality with the real model on the shipped seeds: the README's figures hold.

Marked `model` (real embedding model; a build takes ~10–30 s). The dev questions live beside the
repository in ../shared/eval/dev.jsonl, as on every developer machine and in CI."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from qa.build import build
from qa.config import Settings
from qa.embed import load_embedder
from qa.engine import open_engine
from qa.evaluate import evaluate, load_questions

pytestmark = pytest.mark.model

ROOT = Path(__file__).resolve().parent.parent
DEV_SET = ROOT.parent / "shared" / "eval" / "dev.jsonl"


@pytest.fixture(scope="module")
def seeds_engine(tmp_path_factory):
    work = tmp_path_factory.mktemp("quality")
    shutil.copytree(ROOT / "seeds", work / "seeds")
    settings = Settings.load(seeds_dir=work / "seeds", index_dir=work / "index")
    embedder = load_embedder(settings)
    build(settings, embedder)
    return open_engine(settings, embedder)


def test_readme_example_question(seeds_engine):
    answer = seeds_engine.ask("2023年前三季度贵州技术合同成交额是多少？")
    assert answer.found
    assert "428.73亿元" in answer.text
    assert answer.citation.issue_label == "2023年第12期"
    assert answer.citation.article_title == "贵州省启动职务科技成果赋权转化试点工作"


@pytest.mark.skipif(not DEV_SET.exists(), reason=f"dev set not found at {DEV_SET}")
def test_dev_set_meets_the_targets_in_every_mode(seeds_engine):
    rows = load_questions(DEV_SET)
    reports = {mode: evaluate(seeds_engine, rows, mode=mode) for mode in ("hybrid", "dense", "keyword")}
    hybrid = reports["hybrid"]
    assert hybrid["recall@5"] >= 0.95
    assert hybrid["answer_accuracy"] >= 0.85
    assert hybrid["no_answer_accuracy"] >= 0.8
    assert hybrid["false_reject_rate"] <= 0.05
    for mode in ("dense", "keyword"):
        assert hybrid["recall@5"] >= reports[mode]["recall@5"], mode
        assert hybrid["answer_accuracy"] >= reports[mode]["answer_accuracy"], mode
