"""Article → Chunks: sentence-aware windows of about 150–350 characters with one sentence of
overlap, each keeping its start/end offsets into the article's clean text."""

from __future__ import annotations

import re
from typing import Iterator

from .schema import Article, Chunk

# A sentence ends at 。！？； (plus closing quotes) or a line break. A full stop between digits
# ("428.73") is never a boundary because only the full-width 。 counts.
_SENTENCE_RE = re.compile(r"[^。！？；!?;\n]*(?:[。！？；!?;][”’」』）)]*|\n|$)")


def sentence_spans(text: str, start: int = 0, end: int | None = None) -> Iterator[tuple[int, int]]:
    """(start, end) of each sentence of text[start:end], without surrounding whitespace or line breaks."""
    for match in _SENTENCE_RE.finditer(text, start, len(text) if end is None else end):
        start, end = match.span()
        while start < end and text[start].isspace():
            start += 1
        while end > start and text[end - 1].isspace():
            end -= 1
        if end > start:
            yield start, end


def chunk_article(article: Article, min_chars: int = 150, max_chars: int = 350) -> list[Chunk]:
    """Greedy windows of whole sentences; the next window starts with the last sentence of the
    previous one. A single sentence longer than max_chars is cut at commas (or hard) to fit."""
    sentences = [piece for span in sentence_spans(article.text) for piece in _fit(article.text, span, max_chars)]
    windows: list[tuple[int, int]] = []
    first = 0
    while first < len(sentences):
        last = first
        while last + 1 < len(sentences) and sentences[last + 1][1] - sentences[first][0] <= max_chars:
            last += 1
        windows.append((first, last))
        if last + 1 >= len(sentences):
            break
        # overlap one sentence, unless that would make no progress
        first = last if last > first else last + 1
    if len(windows) > 1:
        a, b = windows[-1]
        if sentences[b][1] - sentences[a][0] < min_chars // 2 and sentences[b][1] - sentences[windows[-2][0]][0] <= max_chars * 1.3:
            windows[-2:] = [(windows[-2][0], b)]
    chunks = []
    for ordinal, (a, b) in enumerate(windows):
        start, end = sentences[a][0], sentences[b][1]
        chunks.append(
            Chunk(
                id=f"{article.id}#{ordinal}",
                article_id=article.id,
                ordinal=ordinal,
                start=start,
                end=end,
                text=article.text[start:end],
            )
        )
    return chunks


def _fit(text: str, span: tuple[int, int], max_chars: int) -> Iterator[tuple[int, int]]:
    start, end = span
    while end - start > max_chars:
        window = text[start : start + max_chars]
        cut = max(window.rfind("，"), window.rfind(","), window.rfind("、"))
        cut = start + (cut + 1 if cut > max_chars // 3 else max_chars)
        yield start, cut
        start = cut
    yield start, end


def embedding_text(title: str, chunk_text: str) -> str:
    """What the embedder sees: the title gives short chunks their context."""
    return f"{title}\n{chunk_text}"
