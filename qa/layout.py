"""Untangle multi-column layouts: several titles printed one after another, then their texts.

When a page sets two articles side by side, the text extraction yields both titles first and
then both bodies. The bodies keep their order, so each title owns one contiguous run of the
paragraphs that follow. We pick the split that best matches each title's distinctive words
(place names, programme names) and drop titles that own nothing (slogans, banners).
"""

from __future__ import annotations

import math
import re
from collections import Counter


def _bigrams(text: str) -> set[str]:
    chars = re.sub(r"[^\u4e00-\u9fff0-9A-Za-z]", "", text)
    return {chars[i : i + 2] for i in range(len(chars) - 1)}


def split_stacked_headings(headings: list[str], paragraphs: list[str]) -> list[tuple[str, list[str]]]:
    """Assign `paragraphs` (in order) to `headings` (in order) as contiguous, possibly empty runs.

    Returns (heading, paragraphs) pairs for the headings that received text.
    """
    if len(headings) == 1:
        return [(headings[0], paragraphs)]
    if not paragraphs:
        return []
    paragraph_grams = [_bigrams(p) for p in paragraphs]
    document_frequency = Counter(g for grams in paragraph_grams for g in grams)
    n = len(paragraphs)

    def idf(gram: str) -> float:
        return math.log((n + 1) / (document_frequency.get(gram, 0) + 0.5))

    heading_grams = [_bigrams(h) for h in headings]
    title_score = [[sum(idf(g) for g in hg & pg) for pg in paragraph_grams] for hg in heading_grams]
    runs = _best_runs(title_score, n)
    # Titles are short, so refine: a paragraph also belongs with the run whose vocabulary it
    # shares (k-means over contiguous runs, seeded by the titles).
    for _ in range(3):
        profiles = [_profile(paragraph_grams[a:b], idf) for a, b in runs]
        score = [
            [title_score[h][i] + 10 * _affinity(paragraph_grams[i], profiles[h], idf, runs[h], i) for i in range(n)]
            for h in range(len(headings))
        ]
        refined = _best_runs(score, n)
        if refined == runs:
            break
        runs = refined
    return [(headings[h], paragraphs[a:b]) for h, (a, b) in enumerate(runs) if b > a]


def _profile(grams_per_paragraph: list[set[str]], idf) -> Counter:
    profile: Counter = Counter()
    for grams in grams_per_paragraph:
        profile.update(grams)
    return profile


def _affinity(grams: set[str], profile: Counter, idf, run: tuple[int, int], i: int) -> float:
    """Weighted share of a paragraph's bigrams that other paragraphs of the run also use."""
    inside = run[0] <= i < run[1]
    total = sum(idf(g) for g in grams) or 1.0
    shared = sum(idf(g) for g in grams if profile[g] - (1 if inside else 0) > 0)
    return shared / total


def _best_runs(score: list[list[float]], n: int) -> list[tuple[int, int]]:
    """Dynamic programme over split points; ties give text to the later heading (banners come first)."""
    k = len(score)
    prefix = [[0.0] * (n + 1) for _ in range(k)]
    for h in range(k):
        for i in range(n):
            prefix[h][i + 1] = prefix[h][i] + score[h][i]
    # best[h][i]: best total when headings[:h+1] own paragraphs[:i]; the last run ends at i
    best = [[-math.inf] * (n + 1) for _ in range(k)]
    start = [[0] * (n + 1) for _ in range(k)]
    for i in range(n + 1):
        best[0][i] = prefix[0][i]
    for h in range(1, k):
        for i in range(n + 1):
            for j in range(i, -1, -1):  # later heading starts at j; prefer the earliest start on ties
                total = best[h - 1][j] + prefix[h][i] - prefix[h][j]
                if total >= best[h][i]:
                    best[h][i], start[h][i] = total, j
    runs: list[tuple[int, int]] = []
    end = n
    for h in range(k - 1, -1, -1):
        begin = start[h][end] if h > 0 else 0
        runs.append((begin, end))
        end = begin
    return runs[::-1]
