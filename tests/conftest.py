"""Shared pytest fixtures. Each section belongs to one part of the project; add yours in its own section."""

from __future__ import annotations

import re
import shutil
from pathlib import Path
from typing import Sequence

import pytest

from qa.config import Settings
from qa.engine import Status, Turn
from qa.errors import NotFound
from qa.schema import Answer, Article, Citation, Issue

# =========================================================================================
# Web API (tests/test_api.py): a small fake engine over two hand-written issues, and apps
# built around it. Fixture names start with api_ / fake_ so they do not collide with others.
# =========================================================================================

FAKE_ISSUES = (
    Issue(
        id="2024-03",
        label="2024年第3期",
        source="2024-03.txt",
        articles=(
            Article(
                id="2024-03/01",
                issue_id="2024-03",
                title="云山市加快氢能产业集群建设",
                text=(
                    "今年以来，云山市围绕制储输用全链条布局氢能产业，安排市级科技专项资金12亿元。\n\n"
                    "一是强化平台支撑，云山高新区建成氢燃料电池中试基地1个。"
                    "二是推动示范应用，全市投放氢燃料电池汽车480辆，建成加氢站9座。"
                ),
                ordinal=1,
            ),
            Article(
                id="2024-03/02",
                issue_id="2024-03",
                title="青石县以揭榜挂帅破解农机装备难题",
                text=(
                    "青石县地处丘陵山区，小型农机装备长期依赖外地供应。"
                    "县科技局首次采用揭榜挂帅方式，发布山地收获机研制榜单，由本地企业联合高校揭榜。"
                ),
                ordinal=2,
            ),
        ),
    ),
    Issue(
        id="2024-04",
        label="2024年第4期",
        source="2024-04.txt",
        articles=(
            Article(
                id="2024-04/01",
                issue_id="2024-04",
                title="白河市推进科技成果转化",
                text="白河市设立成果转化基金3亿元，支持高校院所成果在本地转化。全年技术合同成交额达到56亿元。",
                ordinal=1,
            ),
        ),
    ),
)


def _bigrams(text: str) -> set[str]:
    return {text[i : i + 2] for i in range(len(text) - 1)}


def _spans(text: str, pattern: str) -> list[tuple[int, int]]:
    return [match.span() for match in re.finditer(pattern, text)]


class FakeEngine:
    """The Engine protocol over FAKE_ISSUES: paragraphs are passages, sentences are answers,
    scored by shared character bigrams. Records every ask() so tests can see what arrived."""

    def __init__(self) -> None:
        self.asked: list[dict[str, object]] = []
        self.sources_dir: Path | None = None  # where source_file() finds the issues' files, when set

    def ask(
        self,
        question: str,
        *,
        top_k: int = 5,
        mode: str = "hybrid",
        issue_id: str | None = None,
        history: Sequence[Turn] = (),
    ) -> Answer:
        self.asked.append({"question": question, "top_k": top_k, "mode": mode, "issue_id": issue_id, "history": history})
        issues = [issue for issue in FAKE_ISSUES if issue_id in (None, issue.id)]
        if not issues:
            raise NotFound(f"没有这一期：{issue_id}")
        wanted = _bigrams(question)
        passages = [
            (len(wanted & _bigrams(article.text[start:end])), issue, article, start, end)
            for issue in issues
            for article in issue.articles
            for start, end in _spans(article.text, r"[^\n]+")
        ]
        passages.sort(key=lambda passage: -passage[0])
        citations = tuple(
            Citation(
                issue_id=issue.id,
                issue_label=issue.label,
                issue_source=issue.source,
                article_id=article.id,
                article_title=article.title,
                passage=article.text[start:end],
                start=start,
                end=end,
                score=float(score),
            )
            for score, issue, article, start, end in passages[:top_k]
        )
        best_score, _, best_article, passage_start, passage_end = passages[0]
        if best_score == 0:
            return Answer(question=question, found=False, message="简报中没有找到答案", related=citations)
        passage = best_article.text[passage_start:passage_end]
        sentences = [(passage_start + start, passage_start + end) for start, end in _spans(passage, r"[^。]+。?")]
        start, end = max(sentences, key=lambda span: len(wanted & _bigrams(best_article.text[span[0] : span[1]])))
        return Answer(
            question=question,
            found=True,
            message="找到答案",
            text=best_article.text[start:end],
            start=start,
            end=end,
            highlight_start=start,
            highlight_end=end - 1,  # without the closing 。, so it differs from the sentence span
            confidence=0.8,
            confidence_words="把握较高",
            citation=citations[0],
            related=citations[1:],
        )

    def issues(self) -> list[Issue]:
        return list(FAKE_ISSUES)

    def catalogue(self) -> tuple[list[Issue], str]:
        return list(FAKE_ISSUES), "20240401-fake"

    def article(self, article_id: str) -> tuple[Issue, Article]:
        for issue in FAKE_ISSUES:
            for article in issue.articles:
                if article.id == article_id:
                    return issue, article
        raise NotFound(f"没有这篇文章：{article_id}")

    def related_articles(self, article_id: str) -> list[tuple[Issue, Article]]:
        """Every article of the other issues (there are few)."""
        issue_id = article_id.split("/")[0]
        return [(issue, article) for issue in FAKE_ISSUES if issue.id != issue_id for article in issue.articles]

    def source_file(self, issue_id: str):
        issue = next((issue for issue in FAKE_ISSUES if issue.id == issue_id), None)
        if issue is None or self.sources_dir is None:
            raise NotFound(f"没有这一期：{issue_id}")
        return issue, self.sources_dir / issue.source

    def close(self) -> None:
        pass

    def status(self) -> Status:
        return Status(build_id="20240401-fake", model="fake", issues=2, articles=3, chunks=5,
                      built_at="2024-04-01T08:00:00+00:00", sentences=9, reader="reader-fake")


@pytest.fixture
def fake_engine() -> FakeEngine:
    return FakeEngine()


@pytest.fixture
def api_settings(tmp_path: Path) -> Settings:
    return Settings(seeds_dir=tmp_path / "seeds", index_dir=tmp_path / "index", cache_dir=tmp_path / "cache")


REPOSITORY_WEB = Path(__file__).parent.parent / "web"
"""The page's files, at the top of the repository."""


@pytest.fixture
def api_web_dir(tmp_path: Path) -> Path:
    """A stand-in for web/, so page routes are tested whatever state the real page is in."""
    web_dir = tmp_path / "web"
    web_dir.mkdir()
    (web_dir / "index.html").write_text("<!doctype html><title>科技情报参考</title><p>问答页面</p>", encoding="utf-8")
    for name in ("404.html", "docs.html"):
        shutil.copyfile(REPOSITORY_WEB / name, web_dir / name)
    shutil.copytree(REPOSITORY_WEB / "vendor", web_dir / "vendor")
    (web_dir / "app.js").write_text("document.title = '科技情报参考';\n", encoding="utf-8")
    return web_dir


@pytest.fixture
def api_app_for(api_settings: Settings, api_web_dir: Path):
    """Builds an app around any engine (or none, to exercise lazy opening); each is closed after the test."""
    from qa.http.app import close_app, create_app

    apps = []

    def build(engine=None, settings: Settings | None = None):
        app = create_app(settings or api_settings, engine)
        app.config.update(TESTING=True, WEB_DIR=api_web_dir)
        apps.append(app)
        return app

    yield build
    for app in apps:
        close_app(app)


@pytest.fixture
def api_app(api_app_for, fake_engine: FakeEngine):
    return api_app_for(fake_engine)


@pytest.fixture
def api_client(api_app):
    return api_app.test_client()


# ======================================================================= end of Web API ===


# =========================================================================================
# Real pipeline on small fixture bulletins (tests/data) with the FakeEmbedder: a built index
# in a temp directory, and an engine over it. Shared by parser/index/API/browser tests.
# =========================================================================================

import shutil as _shutil

from qa.embed import FAKE_MODEL, FakeEmbedder

FIXTURE_DATA = Path(__file__).parent / "data"


def make_seeds(directory: Path) -> Path:
    """Copy the fixture bulletins into `directory` (a seeds dir) with a label for the undated one."""
    directory.mkdir(parents=True, exist_ok=True)
    for path in FIXTURE_DATA.glob("*.*"):
        _shutil.copyfile(path, directory / path.name)
    from qa.seeds import set_label

    set_label(directory, "baihe-undated.md", "2023年增刊")
    return directory


def build_fixture_index(root: Path) -> Settings:
    from qa.build import build

    settings = Settings(seeds_dir=make_seeds(root / "seeds"), index_dir=root / "index", model=FAKE_MODEL,
                        cache_dir=root / "cache")
    build(settings, FakeEmbedder())
    return settings


@pytest.fixture(scope="session")
def built_settings(tmp_path_factory) -> Settings:
    """Settings of an index built once per session from tests/data with the fake embedder."""
    return build_fixture_index(tmp_path_factory.mktemp("built"))


@pytest.fixture(scope="session")
def built_engine(built_settings):
    from qa.engine import open_engine

    with open_engine(built_settings, FakeEmbedder()) as engine:
        yield engine


@pytest.fixture()
def fresh_settings(tmp_path) -> Settings:
    """A private, writable built index for tests that add, remove or rebuild."""
    return build_fixture_index(tmp_path)


@pytest.fixture
def new_bulletin(tmp_path) -> Path:
    """A new bulletin (2024年第5期, 松江市) in a folder of its own, ready to add."""
    from helpers_process import NEW_BULLETIN

    path = tmp_path / "incoming" / "2024-05-songjiang.md"
    path.parent.mkdir()
    path.write_text(NEW_BULLETIN, encoding="utf-8")
    return path
