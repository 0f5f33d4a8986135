"""Chunking: sentence-aware windows with one sentence of overlap and exact offsets."""

from __future__ import annotations

from pathlib import Path

from qa.chunking import chunk_article, embedding_text, sentence_spans
from qa.corpus import read_issue
from qa.schema import Article

SEEDS = Path(__file__).resolve().parent.parent / "seeds"


def _article(text: str) -> Article:
    return Article(id="2024-01/01", issue_id="2024-01", title="标题", text=text, ordinal=1)


def test_sentences_split_at_chinese_stops_and_line_breaks_but_not_inside_numbers():
    text = "技术合同成交额428.73亿元、同比增长178.31%。新增贷款171亿元！是否达标？\n下一段；再一句"
    sentences = [text[a:b] for a, b in sentence_spans(text)]
    assert sentences == ["技术合同成交额428.73亿元、同比增长178.31%。", "新增贷款171亿元！", "是否达标？", "下一段；", "再一句"]


def test_chunks_keep_offsets_sizes_and_one_sentence_of_overlap():
    sentence = "云山市建成氢燃料电池中试基地1个，累计引进研发团队23个，日加氢能力达到13.5吨。"  # 41 chars
    article = _article(sentence * 30)
    chunks = chunk_article(article, min_chars=150, max_chars=350)
    assert len(chunks) > 3
    for chunk in chunks:
        assert article.text[chunk.start : chunk.end] == chunk.text
        assert len(chunk.text) <= 350
        assert chunk.id == f"{article.id}#{chunk.ordinal}"
    for previous, following in zip(chunks, chunks[1:]):
        overlap = previous.end - following.start
        assert overlap == len(sentence)  # exactly the last sentence is repeated
    assert chunks[0].start == 0 and chunks[-1].end == len(article.text)


def test_a_very_long_sentence_is_cut_at_commas():
    article = _article("，".join(["科技成果转化项目落地见效"] * 60) + "。")
    chunks = chunk_article(article, max_chars=350)
    assert all(len(c.text) <= 350 for c in chunks)
    covered = set()
    for chunk in chunks:
        covered.update(range(chunk.start, chunk.end))
    assert covered == set(range(len(article.text)))


def test_every_seed_article_is_fully_covered_by_its_chunks():
    for path in sorted(SEEDS.glob("*.txt")):
        for article in read_issue(path).articles:
            chunks = chunk_article(article)
            covered = set()
            for chunk in chunks:
                assert article.text[chunk.start : chunk.end] == chunk.text
                covered.update(range(chunk.start, chunk.end))
            visible = {i for i, ch in enumerate(article.text) if not ch.isspace()}
            assert visible <= covered, article.id


def test_embedding_text_carries_the_title():
    assert embedding_text("贵州省启动职务科技成果赋权转化试点工作", "新增科技贷款171亿元。").startswith("贵州省启动")
