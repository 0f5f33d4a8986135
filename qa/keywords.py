"""Chinese keyword tokens for BM25: jieba's search-mode cut with a user dictionary built from the
corpus (titles, quoted programme names, place names), numbers kept whole."""

from __future__ import annotations

import hashlib
import logging
import re
from functools import cached_property, lru_cache
from importlib import resources
from typing import Callable, Iterable

import jieba
import jieba.posseg

from .schema import Article

jieba.setLogLevel(logging.WARNING)

_TOKEN_RE = re.compile(r"[\u4e00-\u9fffA-Za-z0-9]")
_QUOTED_RE = re.compile(r"[“\"《]([^”\"》，。；]{2,12})[”\"》]")
_TITLE_PLACE_RE = re.compile(r"^[\u4e00-\u9fff]{2,8}?(?:自治区|省|市|县|区|盟)")
# A title's pieces between spaces and punctuation, when short enough to be a name ('科技小院'); a longer run is
# not cut into 8-character pieces ('湖北省科技厅从五' + '个方面优化科技计'), which would tokenize as nonsense.
_TITLE_PIECE_RE = re.compile(r"(?<![\u4e00-\u9fff])[\u4e00-\u9fff]{2,8}(?![\u4e00-\u9fff])")

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


PLACE_SUFFIX = "(?:自治区|省|市|县|区|州|盟|旗)"  # what place_stem takes off a place name
_PLACE_SUFFIX_RE = re.compile(PLACE_SUFFIX + "$")


def place_stem(word: str) -> str:
    """'巴中市' → '巴中' (two characters at least: '沙市' stays)."""
    stem = _PLACE_SUFFIX_RE.sub("", word)
    return stem if len(stem) >= 2 else word


def corpus_terms(articles: Iterable[Article], places: Callable[[Article], set[str]] | None = None) -> list[str]:
    """Terms to keep whole, as 'term tag' lines of a jieba user dictionary: quoted names, short
    title pieces, domain terms ('nz') and place names with their stems ('ns').

    `places` finds an article's place names (default `article_places`); a build passes one that
    remembers them from the previous build, since part-of-speech tagging is most of a build's time."""
    places = places or article_places
    terms: dict[str, str] = {t: "nz" for t in domain_terms()}
    for article in articles:
        for piece in _TITLE_PIECE_RE.findall(article.title.split("：")[0]):
            terms.setdefault(piece, "nz")
        for match in _QUOTED_RE.finditer(article.text + article.title):
            terms.setdefault(match.group(1), "nz")
        for place in places(article):
            terms[place] = "ns"
            terms[place_stem(place)] = "ns"
    return sorted(f"{t} {tag}" for t, tag in terms.items() if 2 <= len(t) <= 12 and _TOKEN_RE.search(t))


def places_key(article: Article) -> str:
    """What `article_places` depends on, hashed: the title and the text (jieba's dictionary is fixed)."""
    return hashlib.sha256(f"{article.title}\n{article.text}".encode()).hexdigest()[:32]


NAME_TAGS = frozenset({"nt", "nr", "nrt", "ns", "nz"})  # organisations, people, places, other proper nouns


@lru_cache(maxsize=1 << 14)
def proper_names(text: str) -> tuple[str, ...]:
    """The proper names jieba's own dictionary tags in a text (two characters or more), in order."""
    return tuple(p.word for p in _plain_tokenizer()._tagger.cut(text) if p.flag in NAME_TAGS and len(p.word) >= 2)


def article_places(article: Article) -> set[str]:
    """Place names: those jieba knows (tag 'ns') in the title and text, the place a title opens
    with ('宁波海曙区…', '四川巴中…'), and a short title head before '：' ('甘肃：让高校…')."""
    tagger = _plain_tokenizer()._tagger
    places = {p.word for p in tagger.cut(article.title + "\n" + article.text) if p.flag == "ns" and len(p.word) >= 2}
    head = article.title.split("：")[0]
    if "：" in article.title and len(head) <= 4:
        places.add(head)
    match = _TITLE_PLACE_RE.match(article.title)
    if match:
        places.add(match.group(0))
        for known in list(places):  # '宁波海曙区' = '宁波' + '海曙区'
            if match.group(0).startswith(known) and len(match.group(0)) > len(known) + 1:
                places.add(match.group(0)[len(known):])
    return places


@lru_cache(maxsize=1)
def _base_dictionary() -> tuple[dict, int, dict]:
    """jieba's main dictionary and tag table, read once per process (~0.6 s, ~60 MB) and shared
    read-only by every tokenizer: each keeps its own words in a layer on top (_Layered)."""
    base = jieba.Tokenizer()
    base.initialize()
    return base.FREQ, base.total, jieba.posseg.dt.word_tag_tab


class _Layered(dict):
    """A tokenizer's own entries over the shared base dictionary, which is never written: what ChainMap({}, base)
    gives, with jieba's per-character lookups about 4× faster (ChainMap's run a generator each: ~40 % of the time
    tokenizing and tagging took)."""

    __slots__ = ("_base",)

    def __init__(self, base: dict):
        super().__init__()
        self._base = base

    def __missing__(self, key):
        return self._base[key]

    def __contains__(self, key) -> bool:
        return dict.__contains__(self, key) or key in self._base

    def get(self, key, default=None):
        return dict.get(self, key) if dict.__contains__(self, key) else self._base.get(key, default)


class _Tagger(jieba.posseg.POSTokenizer):
    def load_word_tag(self, f):  # the shared tag table instead of re-reading dict.txt
        self.word_tag_tab = _Layered(_base_dictionary()[2])


@lru_cache(maxsize=1)
def _plain_tokenizer() -> "KeywordTokenizer":
    """jieba with its own dictionary only: for finding the place names it already knows."""
    return KeywordTokenizer()


class KeywordTokenizer:
    """A private jieba tokenizer (the global one is left alone) with the corpus's user terms
    ('term tag' lines, see corpus_terms)."""

    def __init__(self, user_terms: Iterable[str] = ()):
        frequencies, total, _ = _base_dictionary()
        self._jieba = jieba.Tokenizer()
        self._jieba.FREQ, self._jieba.total, self._jieba.initialized = _Layered(frequencies), total, True
        self.user_terms = tuple(user_terms)
        self._tagger = _Tagger(self._jieba)
        for line in self.user_terms:
            term, _, tag = line.partition(" ")
            self._tagger.word_tag_tab[term] = tag or "nz"
            self._jieba.add_word(term, freq=200_000 if tag == "ns" else 2000, tag=tag or None)

    @cached_property
    def places(self) -> frozenset[str]:
        """The place names of the corpus (its user terms tagged 'ns'), with their stems."""
        names = [line.partition(" ")[0] for line in self.user_terms if line.endswith(" ns")]
        return frozenset(names) | frozenset(place_stem(name) for name in names)

    def tokens(self, text: str) -> list[str]:
        return [
            token
            for token in self._jieba.cut_for_search(text)
            if _TOKEN_RE.search(token) and token not in STOPWORDS
        ]

    def tagged(self, text: str) -> list[tuple[str, str]]:
        """(word, part-of-speech) pairs; 'ns' marks place names."""
        return [(p.word, p.flag) for p in self._tagger.cut(text) if _TOKEN_RE.search(p.word) and p.word not in STOPWORDS]

    def words(self, text: str) -> list[str]:
        """Precise-mode words (no overlapping sub-words): for matching a question to a sentence."""
        return [w for w in self._jieba.cut(text) if _TOKEN_RE.search(w) and w not in STOPWORDS]
