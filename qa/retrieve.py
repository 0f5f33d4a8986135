"""Question → ranked Hits: dense (FAISS), keyword (jieba BM25) or hybrid (reciprocal rank fusion),
optionally within one issue, diversified so one article cannot fill every slot; then the
Candidates for the reader: the sentences of those passages and their neighbours."""

from __future__ import annotations

from dataclasses import dataclass
from functools import lru_cache

import numpy as np

from .embed import Embedder
from .index import Snapshot
from .schema import Article, Chunk, Hit, Period
from .sentences import ArticleContext, Sentence

RRF_K = 20  # small corpus: a low constant lets the top ranks of each list count
PER_ARTICLE = 2


class QueryEncoder:
    """Embeds questions once: repeated questions cost no model call (LRU cache)."""

    def __init__(self, embedder: Embedder, size: int = 1024):
        self.embedder = embedder
        self._cached = lru_cache(maxsize=size)(self._encode)

    def _encode(self, question: str) -> np.ndarray:
        vector = np.asarray(self.embedder.embed_query(question), dtype=np.float32)
        vector.setflags(write=False)
        return vector

    def __call__(self, question: str) -> np.ndarray:
        return self._cached(question)


def search(
    snapshot: Snapshot,
    encode: QueryEncoder,
    question: str,
    *,
    top_k: int = 5,
    mode: str = "hybrid",
    issue_id: str | None = None,
) -> list[Hit]:
    allowed = _allowed_rows(snapshot, issue_id)
    if not allowed.any():
        return []
    dense = _dense_scores(snapshot, encode(question)) if mode in ("dense", "hybrid") else None
    keyword = _keyword_scores(snapshot, question) if mode in ("keyword", "hybrid") else None
    dense_rank = _ranks(dense, allowed) if dense is not None else None
    keyword_rank = _ranks(keyword, allowed) if keyword is not None else None
    if mode == "dense":
        fused = dense
    elif mode == "keyword":
        fused = keyword
    else:
        fused = 1.0 / (RRF_K + dense_rank) + 1.0 / (RRF_K + keyword_rank)
    order = [int(i) for i in np.argsort(-fused, kind="stable") if allowed[i]]
    hits: list[Hit] = []
    per_article: dict[str, int] = {}
    for row in order:
        chunk = snapshot.chunks[row]
        if per_article.get(chunk.article_id, 0) >= PER_ARTICLE:
            continue
        per_article[chunk.article_id] = per_article.get(chunk.article_id, 0) + 1
        hits.append(
            Hit(
                chunk=chunk,
                score=float(fused[row]),
                dense_score=float(dense[row]) if dense is not None else 0.0,
                keyword_score=float(keyword[row]) if keyword is not None else 0.0,
                dense_rank=int(dense_rank[row]) if dense_rank is not None else None,
                keyword_rank=int(keyword_rank[row]) if keyword_rank is not None else None,
            )
        )
        if len(hits) >= top_k:
            break
    return hits


def _allowed_rows(snapshot: Snapshot, issue_id: str | None) -> np.ndarray:
    if issue_id is None:
        return np.ones(len(snapshot.chunks), dtype=bool)
    prefix = issue_id + "/"
    return np.array([c.article_id.startswith(prefix) for c in snapshot.chunks], dtype=bool)


def _dense_scores(snapshot: Snapshot, query: np.ndarray) -> np.ndarray:
    scores = np.full(len(snapshot.chunks), -1.0, dtype=np.float32)
    found, ids = snapshot.dense.search(query.reshape(1, -1), len(snapshot.chunks))
    valid = ids[0] >= 0
    scores[ids[0][valid]] = found[0][valid]
    return scores


def _keyword_scores(snapshot: Snapshot, question: str) -> np.ndarray:
    tokens = [t for t in snapshot.tokenizer.tokens(question) if t in snapshot.keyword.vocab_dict]
    if not tokens:
        return np.zeros(len(snapshot.chunks), dtype=np.float32)
    return np.asarray(snapshot.keyword.get_scores(tokens), dtype=np.float32)


def _ranks(scores: np.ndarray, allowed: np.ndarray) -> np.ndarray:
    """1-based rank of every row by score (rows outside the filter rank last)."""
    masked = np.where(allowed, scores, -np.inf)
    ranks = np.empty(len(scores), dtype=np.float64)
    ranks[np.argsort(-masked, kind="stable")] = np.arange(1, len(scores) + 1)
    return ranks


@dataclass(frozen=True, slots=True)
class Candidate:
    """A sentence the reader may answer from, with its context and the retrieval evidence for it."""

    sentence: Sentence
    article: Article
    issue_label: str
    issue_source: str
    context: ArticleContext
    previous: str  # the sentence before it in its paragraph, '' if it opens the paragraph
    vector: np.ndarray  # its embedding (row of the build's sentence vectors)
    dense: float  # cosine of question and sentence
    dense_z: float  # that cosine in standard deviations above the question's mean over every sentence
    dense_level: float  # that cosine against the model's usual cosine between two sentences (Evidence.cosine_scale)
    topic_level: float  # the same for the question's topic (no places, no period: Question.topic) and the sentence
    context_dense: float  # cosine of question and the sentence read under its title and heading (Evidence.context_vectors)
    context_topic: float  # cosine of the question's topic and that
    hit: Hit  # the best-ranked retrieved passage it lies in or next to
    hit_rank: int  # 1-based rank of that passage
    article_rank: int  # 1-based rank of its article among the retrieved ones
    neighbour: bool  # outside the passage: adjacent to it, or elsewhere in the best article (hit_rank then past the hits)
    article_period: Period  # the period the article opens with ('2023年，宁夏…'), often in force throughout
    passage: Chunk | None = None  # the passage that holds the sentence, for its citation (None: `hit`'s own)


TOP_ARTICLE_QUANTILE = 0.8


def candidates(snapshot: Snapshot, query: np.ndarray, hits: list[Hit], topic: np.ndarray | None = None) -> list[Candidate]:
    """The sentences of the retrieved passages and their neighbours, and the best article's sentences that
    come as close to the question as the closest fifth of those, each once, best hit first. `topic`: the
    embedding of the question's topic (the question itself when it names no place or period)."""
    evidence = snapshot.evidence
    article_order = list(dict.fromkeys(hit.chunk.article_id for hit in hits))
    chosen: dict[int, tuple[int, Hit, bool]] = {}
    for rank, hit in enumerate(hits, start=1):
        rows = snapshot.sentence_rows.get(hit.chunk.article_id, range(0))
        inside = [r for r in rows if evidence.sentences[r].start < hit.chunk.end and evidence.sentences[r].end > hit.chunk.start]
        if not inside:
            continue
        for row in inside:
            chosen.setdefault(row, (rank, hit, False))
        for row in (inside[0] - 1, inside[-1] + 1):
            if row in rows:
                chosen.setdefault(row, (rank, hit, True))
    if not chosen:
        return []
    everywhere = evidence.vectors @ query  # how this model scores the question against anything
    # The best article's other sentences that come as close to the question as the best fifth of the candidates:
    # the passage holding the answer is not always retrieved when its article is (cross-validated: answer
    # +1.5 points, tight +1.4, for a few more candidates; every sentence of the article instead: +0.8, and more
    # unanswerable questions answered).
    level = float(np.quantile(everywhere[list(chosen)], TOP_ARTICLE_QUANTILE))
    for row in snapshot.sentence_rows.get(hits[0].chunk.article_id, range(0)):
        if row not in chosen and everywhere[row] >= level:
            chosen[row] = (len(hits) + 1, hits[0], True)
    order = sorted(chosen)
    mean, spread = float(everywhere.mean()), float(everywhere.std()) or 1.0
    dense = everywhere[order]
    topical = dense if topic is None else evidence.vectors[order] @ topic
    in_context = evidence.context_vectors[order] @ query
    topical_in_context = in_context if topic is None else evidence.context_vectors[order] @ topic
    usual, usual_spread = evidence.cosine_scale
    opening_periods = {article_id: _opening_period(snapshot, article_id) for article_id in article_order}
    found = []
    for row, score, topic_score, context_score, context_topic in zip(order, dense, topical, in_context,
                                                                     topical_in_context):
        rank, hit, neighbour = chosen[row]
        sentence = evidence.sentences[row]
        article = snapshot.articles[sentence.article_id]
        issue = snapshot.issue(article.issue_id)
        before = evidence.sentences[row - 1] if row > 0 else None
        previous = before.text if before is not None and before.article_id == sentence.article_id and before.paragraph == sentence.paragraph else ""
        found.append(Candidate(
            sentence=sentence, article=article, issue_label=issue.label, issue_source=issue.source,
            context=evidence.contexts[sentence.article_id], previous=previous, vector=evidence.vectors[row],
            dense=float(score), dense_z=(float(score) - mean) / spread,
            dense_level=(float(score) - usual) / usual_spread, topic_level=(float(topic_score) - usual) / usual_spread,
            context_dense=float(context_score), context_topic=float(context_topic),
            hit=hit, hit_rank=rank, article_rank=article_order.index(sentence.article_id) + 1,
            neighbour=neighbour, article_period=opening_periods[sentence.article_id],
            passage=hit.chunk if not neighbour else _passage_of(snapshot, sentence, hit.chunk),
        ))
    return found


def _passage_of(snapshot: Snapshot, sentence: Sentence, near: Chunk) -> Chunk:
    """The article's passage that holds the sentence (the first that holds all of it, else its start), so that
    a sentence found beside or away from the retrieved passage is cited with its own."""
    chunks = snapshot.article_chunks.get(sentence.article_id, ())
    whole = next((c for c in chunks if c.start <= sentence.start and sentence.end <= c.end), None)
    return whole or next((c for c in chunks if c.start <= sentence.start < c.end), near)


def _opening_period(snapshot: Snapshot, article_id: str) -> Period:
    """The first period stated in the article's first paragraph."""
    sentences = snapshot.evidence.sentences
    rows = snapshot.sentence_rows.get(article_id, range(0))
    first = next((sentences[r].paragraph for r in rows), None)
    return next((sentences[r].stated for r in rows if sentences[r].paragraph == first and sentences[r].stated), Period())
