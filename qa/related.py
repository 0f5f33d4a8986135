"""Articles on the same topic in other issues, found once per build: an article's vector is the mean
of its chunks' vectors, and its neighbours are the other issues' articles most similar to it.

Similarities of one embedding model sit in a narrow band (all bulletins are about science policy),
so a neighbour must stand out from the article's own baseline, not pass a fixed cosine: it is kept
when its similarity is at least one standard deviation above the article's mean similarity to
every other issue's article.
"""

from __future__ import annotations

from typing import Sequence

import numpy as np

from .schema import Article, Chunk

RELATED_PER_ARTICLE = 3
RELATED_FILE = "related.json"


def article_vectors(articles: Sequence[Article], chunks: Sequence[Chunk], vectors: np.ndarray) -> np.ndarray:
    """One unit vector per article (in `articles` order): the normalized mean of its chunks' vectors."""
    rows = {article.id: n for n, article in enumerate(articles)}
    sums = np.zeros((len(articles), vectors.shape[1]), dtype=np.float64)
    for chunk, vector in zip(chunks, vectors):
        sums[rows[chunk.article_id]] += vector
    norms = np.linalg.norm(sums, axis=1, keepdims=True)
    return (sums / np.where(norms > 0, norms, 1.0)).astype(np.float32)


def related_articles(
    articles: Sequence[Article], chunks: Sequence[Chunk], vectors: np.ndarray, per_article: int = RELATED_PER_ARTICLE
) -> dict[str, list[list]]:
    """{article id: [[other article id, similarity], …]}, best first, only articles of other issues."""
    if not articles or not len(vectors):
        return {}
    unit = article_vectors(articles, chunks, vectors)
    similarity = unit @ unit.T
    issue_ids = np.array([article.issue_id for article in articles])
    related: dict[str, list[list]] = {}
    for n, article in enumerate(articles):
        others = np.flatnonzero(issue_ids != article.issue_id)
        if len(others) < 2:
            related[article.id] = []
            continue
        scores = similarity[n, others]
        floor = scores.mean() + scores.std()
        best = others[np.argsort(-scores, kind="stable")][:per_article]
        related[article.id] = [
            [articles[m].id, round(float(similarity[n, m]), 4)] for m in best if similarity[n, m] >= floor
        ]
    return related
