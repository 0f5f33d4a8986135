"""Model figures measured in a fresh process of their own, one runtime per process:

    python -m bench.reference torch|onnx SEEDS_DIR CACHE_DIR [THREADS]   → one JSON line on stdout

import and load seconds, one query forward (median over new questions, ms), and passages per second for the
seeds' chunks and for short sentences (~40 characters, as the reader embeds at build time).
"""

from __future__ import annotations

import json
import re
import statistics
import sys
import time
from pathlib import Path

QUERY_SAMPLE = 60
_SENTENCE_END = re.compile(r"(?<=[。！？；])")


def _texts(seeds_dir: Path) -> tuple[list[str], list[str]]:
    from qa.build import load_corpus
    from qa.chunking import chunk_article, embedding_text

    articles = [article for issue in load_corpus(seeds_dir) for article in issue.articles]
    chunks = [embedding_text(a.title, c.text) for a in articles for c in chunk_article(a)]
    sentences = [s.strip() for a in articles for s in _SENTENCE_END.split(a.text) if 25 <= len(s.strip()) <= 60]
    return chunks, list(dict.fromkeys(sentences))


def _rate(embed, texts: list[str]) -> float:
    embed(texts[:16])  # warm-up: first calls allocate
    started = time.perf_counter()
    embed(texts)
    return len(texts) / (time.perf_counter() - started)


def _load(runtime: str, cache_dir: Path, threads: int):
    """(seconds to import the runtime's libraries, seconds to load the model, the embedder)."""
    from qa.config import DEFAULT_MODEL
    from qa.model import ensure_default_model

    model_dir = ensure_default_model(cache_dir)
    started = time.perf_counter()
    if runtime == "torch":
        import sentence_transformers  # noqa: F401  (what every process paid for before)

        from qa.embed import SentenceTransformerEmbedder
    else:
        import onnxruntime  # noqa: F401
        import sentencepiece  # noqa: F401

        from qa.embed_onnx import OnnxEmbedder
    imported = time.perf_counter()
    if runtime == "torch":
        import torch

        torch.set_num_threads(threads)
        embedder = SentenceTransformerEmbedder(model_dir, DEFAULT_MODEL)
    else:
        embedder = OnnxEmbedder(model_dir, DEFAULT_MODEL, threads=threads)
    return imported - started, time.perf_counter() - imported, embedder


def _forward_ms(embedder, questions: list[str]) -> float:
    """Median milliseconds of one query embedding (the first three calls warm up and are not counted)."""
    for question in questions[:3]:
        embedder.embed_query(question)
    forwards = []
    for question in questions[3:]:
        started = time.perf_counter()
        embedder.embed_query(question)
        forwards.append((time.perf_counter() - started) * 1000)
    return statistics.median(forwards)


def measure(runtime: str, seeds_dir: Path, cache_dir: Path, threads: int) -> dict:
    from bench.questions import NewQuestions

    import_s, load_s, embedder = _load(runtime, cache_dir, threads)
    questions = NewQuestions(seeds_dir, seed=11).take_many(2 * QUERY_SAMPLE + 3)
    forward_ms = _forward_ms(embedder, questions[:QUERY_SAMPLE + 3])
    if runtime == "torch":  # torch's 2 threads suffer most on a busy machine: the reference is its better figure
        import torch

        torch.set_num_threads(1)
        forward_ms = min(forward_ms, _forward_ms(embedder, questions[QUERY_SAMPLE:]))
        torch.set_num_threads(threads)
    chunks, sentences = _texts(seeds_dir)
    return {
        "runtime": runtime, "threads": threads, "import_s": round(import_s, 2), "load_s": round(load_s, 2),
        "query_forward_ms": round(forward_ms, 1),
        "chunks_per_s": round(_rate(embedder.embed_passages, chunks), 1), "chunks": len(chunks),
        "sentences_per_s": round(_rate(embedder.embed_passages, sentences), 1), "sentences": len(sentences),
        "sentence_chars": round(statistics.mean(len(s) for s in sentences), 1),
    }


if __name__ == "__main__":
    runtime, seeds, cache = sys.argv[1], Path(sys.argv[2]), Path(sys.argv[3])
    print(json.dumps(measure(runtime, seeds, cache, int(sys.argv[4]) if len(sys.argv) > 4 else 2)))
