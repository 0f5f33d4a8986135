"""What a build records about the runtime that made its vectors, how loading checks it, and the work a
build reuses from the previous one (vectors of the same runtime, place names). Fake embedders only."""

from __future__ import annotations

import json

import numpy as np
import pytest

import qa.build
from qa.build import PLACES_CACHE, add_bulletins, build
from qa.embed import ONNX_INT8, TORCH_FP32, FakeEmbedder
from qa.engine import open_engine
from qa.errors import IndexMismatch
from qa.index import build_dir, current_build_id, load_snapshot, verified_manifest
from qa.manifest import Manifest


class RuntimeEmbedder(FakeEmbedder):
    """The fake model under a declared runtime; counts the passages it embeds."""

    def __init__(self, runtime: str):
        super().__init__()
        self.runtime = runtime
        self.embedded = 0

    def embed_passages(self, texts, progress=False):
        self.embedded += len(texts)
        return super().embed_passages(texts, progress)


class UndeclaredEmbedder:
    """Only the Embedder protocol: name, dimension, embed_passages, embed_query (no runtime attribute)."""

    def __init__(self):
        self._inner = FakeEmbedder()
        self.name, self.dimension = self._inner.name, self._inner.dimension

    def embed_passages(self, texts, progress=False):
        return self._inner.embed_passages(texts, progress)

    def embed_query(self, text):
        return self._inner.embed_query(text)


def _manifest(settings) -> Manifest:
    return verified_manifest(settings.index_dir, current_build_id(settings.index_dir))


def test_the_manifest_names_the_runtime_that_made_the_vectors(fresh_settings):
    assert _manifest(fresh_settings).runtime == "fake"
    build(fresh_settings, RuntimeEmbedder(ONNX_INT8), force=True)
    assert _manifest(fresh_settings).runtime == ONNX_INT8


def test_int8_and_fp32_builds_answer_each_others_questions(fresh_settings):
    build(fresh_settings, RuntimeEmbedder(ONNX_INT8), force=True)
    assert load_snapshot(fresh_settings.index_dir, "fake-64", TORCH_FP32).manifest.runtime == ONNX_INT8
    build(fresh_settings, RuntimeEmbedder(TORCH_FP32), force=True)
    assert load_snapshot(fresh_settings.index_dir, "fake-64", ONNX_INT8).manifest.runtime == TORCH_FP32


def test_vectors_of_a_runtime_that_is_not_interchangeable_are_refused_with_what_to_run(fresh_settings):
    build(fresh_settings, RuntimeEmbedder("onnx-fp16"), force=True)
    with pytest.raises(IndexMismatch, match="qa build --force") as caught:
        load_snapshot(fresh_settings.index_dir, "fake-64", ONNX_INT8)
    assert "onnx-fp16" in caught.value.message and "QA_EMBED_RUNTIME" in caught.value.message
    with pytest.raises(IndexMismatch):
        open_engine(fresh_settings, RuntimeEmbedder(ONNX_INT8)).status()


def test_switching_runtime_re_embeds_everything_so_a_build_never_mixes_them(fresh_settings, new_bulletin):
    int8 = RuntimeEmbedder(ONNX_INT8)
    first = build(fresh_settings, int8, force=True)
    assert first.embedded == first.chunks + 2 * first.sentences
    fp32 = RuntimeEmbedder(TORCH_FP32)
    _, added = add_bulletins(fresh_settings, fp32, [new_bulletin])
    assert added.embedded == added.chunks + 2 * added.sentences == fp32.embedded  # nothing reused from the int8 build
    assert _manifest(fresh_settings).runtime == TORCH_FP32
    same = RuntimeEmbedder(TORCH_FP32)
    assert build(fresh_settings, same, force=False).changed is False and same.embedded == 0


def test_an_embedder_that_declares_no_runtime_reuses_the_fake_models_vectors(fresh_settings, new_bulletin):
    before = dict(_manifest(fresh_settings).counts)
    _, added = add_bulletins(fresh_settings, UndeclaredEmbedder(), [new_bulletin])
    new_texts = added.chunks - before["chunks"] + 2 * (added.sentences - before["sentences"])  # alone and in context
    assert 0 < added.embedded == new_texts  # only the new issue's passages and sentences
    assert _manifest(fresh_settings).runtime == "unknown"
    assert open_engine(fresh_settings, FakeEmbedder()).status().chunks == added.chunks


def test_an_add_tags_only_the_new_articles_for_place_names(fresh_settings, new_bulletin, monkeypatch):
    tagged = []
    real = qa.build.article_places
    monkeypatch.setattr(qa.build, "article_places", lambda article: tagged.append(article.id) or real(article))
    [issue], _ = add_bulletins(fresh_settings, FakeEmbedder(), [new_bulletin])
    assert sorted(tagged) == sorted(article.id for article in issue.articles)
    folder = build_dir(fresh_settings.index_dir, current_build_id(fresh_settings.index_dir))
    cached = json.loads((folder / PLACES_CACHE).read_text(encoding="utf-8"))
    assert len(cached) == sum(len(i.articles) for i in load_snapshot(fresh_settings.index_dir).issues)
    assert any("松江" in place for places in cached.values() for place in places)


def test_a_damaged_places_cache_is_recomputed_with_the_same_dictionary(fresh_settings, new_bulletin):
    folder = build_dir(fresh_settings.index_dir, current_build_id(fresh_settings.index_dir))
    user_terms = (folder / "userdict.txt").read_text(encoding="utf-8")
    (folder / PLACES_CACHE).write_text("{not json", encoding="utf-8")
    add_bulletins(fresh_settings, FakeEmbedder(), [new_bulletin])
    new_folder = build_dir(fresh_settings.index_dir, current_build_id(fresh_settings.index_dir))
    new_terms = set((new_folder / "userdict.txt").read_text(encoding="utf-8").splitlines())
    assert set(user_terms.splitlines()) <= new_terms and "松江市 ns" in new_terms
    reference = build(fresh_settings, FakeEmbedder(), force=True)  # forced: every article tagged afresh
    forced_terms = (build_dir(fresh_settings.index_dir, reference.build_id) / "userdict.txt").read_text("utf-8")
    assert set(forced_terms.splitlines()) == new_terms
    assert np.load(new_folder / "vectors.npy").shape[0] == reference.chunks
