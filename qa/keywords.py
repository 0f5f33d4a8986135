"""Chinese keyword tokens for BM25: jieba's search-mode cut with a user dictionary built from the
corpus (titles, quoted programme names, place names), numbers kept whole."""

from __future__ import annotations

import logging
import re
from functools import lru_cache
from importlib import resources
from typing import Iterable

import jieba

from .schema import Article

jieba.setLogLevel(logging.WARNING)

_TOKEN_RE = re.compile(r"[\u4e00-\u9fffA-Za-z0-9]")
_QUOTED_RE = re.compile(r"[“\"《]([^”\"》，。；]{2,12})[”\"》]")
_PLACE_RE = re.compile(
    r"[\u4e00-\u9fff]{2,4}?(?:自治区|省|市|县|区|州|盟|旗)(?=[\u4e00-\u9fff])"
)
_TITLE_PIECE_RE = re.compile(r"[\u4e00-\u9fff]{2,8}")

STOPWORDS = frozenset(
    """的 了 是 在 和 与 及 等 为 对 将 以 于 把 被 由 从 向 也 都 而 并 或 其 之 这 那 个 中 上 下
    有 没有 吗 呢 吧 啊 多少 几 哪些 哪个 哪 什么 怎么 怎样 如何 通过 是否 请问 请 一下 一共 分别 目前 现在
    情况 相关 方面 主要 进行 开展 工作 问 答 年 月 日 期""".split()
)


@lru_cache(maxsize=1)
def domain_terms() -> tuple[str, ...]:
    """Hand-kept terms of the bulletins' field (科技成果转化, 呼包鄂乌 …)."""
    text = resources.files("qa").joinpath("data/domain_terms.txt").read_text(encoding="utf-8")
    return tuple(line.strip() for line in text.splitlines() if line.strip() and not line.startswith("#"))


def corpus_terms(articles: Iterable[Article]) -> list[str]:
    """Terms to keep whole: quoted names, place names and short title pieces found in the corpus."""
    terms: set[str] = set(domain_terms())
    for article in articles:
        terms.update(_TITLE_PIECE_RE.findall(article.title.split("：")[0]))
        terms.update(m.group(1) for m in _QUOTED_RE.finditer(article.text + article.title))
        terms.update(m.group(0) for m in _PLACE_RE.finditer(article.text))
    return sorted(t for t in terms if 2 <= len(t) <= 12 and _TOKEN_RE.search(t))


class KeywordTokenizer:
    """A private jieba tokenizer (the global one is left alone) with the corpus's user terms."""

    def __init__(self, user_terms: Iterable[str] = ()):
        self._jieba = jieba.Tokenizer()
        self._jieba.initialize()
        self.user_terms = tuple(user_terms)
        for term in self.user_terms:
            self._jieba.add_word(term, freq=2000)

    def tokens(self, text: str) -> list[str]:
        return [
            token
            for token in self._jieba.cut_for_search(text)
            if _TOKEN_RE.search(token) and token not in STOPWORDS
        ]

    def words(self, text: str) -> list[str]:
        """Precise-mode words (no overlapping sub-words): for matching a question to a sentence."""
        return [w for w in self._jieba.cut(text) if _TOKEN_RE.search(w) and w not in STOPWORDS]
