"""Extractive answers on the fixture bulletins (fake embedder): verbatim spans with offsets,
highlights, question kinds, not-found, issue filter, follow-ups, corroborating citations."""

from __future__ import annotations


import pytest

from conftest import build_fixture_index
from qa.build import add_bulletins
from qa.embed import FakeEmbedder
from qa.engine import Turn, open_engine
from qa.errors import NotFound


def _check_verbatim(engine, answer):
    _issue, article = engine.article(answer.citation.article_id)
    assert article.text[answer.start : answer.end] == answer.text
    assert answer.start <= answer.highlight_start < answer.highlight_end <= answer.end
    assert len(answer.text) <= 200
    assert 0.0 <= answer.confidence <= 1.0
    return article


def test_number_answer_is_the_clause_with_the_number_highlighted(built_engine):
    answer = built_engine.ask("云山市日加氢能力达到多少？")
    assert answer.found
    article = _check_verbatim(built_engine, answer)
    assert "13.5吨" in answer.text
    assert article.text[answer.highlight_start : answer.highlight_end] == "13.5吨"
    assert answer.citation.issue_label == "2024年第3期"
    assert answer.citation.article_title == "云山市加快氢能产业集群建设"
    assert "。" not in answer.text  # a clause, not the paragraph


def test_unit_in_the_question_picks_the_right_number(built_engine):
    answer = built_engine.ask("青石县揭榜挂帅共吸引了多少个揭榜团队？")
    assert answer.found and "17个" in answer.text
    assert "17个" == built_engine.article(answer.citation.article_id)[1].text[answer.highlight_start : answer.highlight_end]


def test_answer_windows_keep_enumerations_quotes_and_brackets_whole():
    from qa.reader.spans import clauses

    text = "榜单共发布丘陵茶园采摘机、山地轨道运输车等技术难题6项，出台《云山市氢能产业发展扶持办法（试行，2024年）》，推广“企业出题，高校攻关”模式。"
    parts = [text[a:b] for a, b in clauses(text, 0, len(text))]
    assert parts == ["榜单共发布丘陵茶园采摘机、山地轨道运输车等技术难题6项",
                     "出台《云山市氢能产业发展扶持办法（试行，2024年）》", "推广“企业出题，高校攻关”模式"]


def test_issue_question_answers_with_the_issue_label(built_engine):
    answer = built_engine.ask("《云山市加快氢能产业集群建设》是哪一期《科技情报参考》刊登的？")
    assert answer.found
    assert answer.text.startswith("2024年第3期")
    assert "云山市加快氢能产业集群建设" in answer.text


@pytest.mark.parametrize(
    "question",
    [
        "海南省2023年技术合同成交额是多少？",  # a province the bulletins never mention
        "青石县2023年技术合同成交额是多少？",  # a place that is mentioned, a fact that is not
    ],
)
def test_unanswerable_questions_are_not_found_but_still_cite(built_engine, question):
    answer = built_engine.ask(question)
    assert not answer.found
    assert answer.text is None and answer.citation is None
    assert "没有找到" in answer.message
    assert answer.citations  # the closest passages, so the user can look


def test_issue_filter_restricts_citations(built_engine):
    everywhere = built_engine.ask("技术合同成交额", top_k=10)
    assert {c.issue_id for c in everywhere.citations} == {"2024-03", "baihe-undated"}
    only = built_engine.ask("技术合同成交额", top_k=10, issue_id="baihe-undated")
    assert only.citations and {c.issue_id for c in only.citations} == {"baihe-undated"}
    with pytest.raises(NotFound):
        built_engine.ask("技术合同成交额", issue_id="1999-01")


def test_modes_and_top_k(built_engine):
    for mode in ("hybrid", "dense", "keyword"):
        answer = built_engine.ask("宁川县建成了多少个科技小院？", mode=mode, top_k=2)
        assert len(answer.citations) <= 2
        assert answer.found and "12个" in answer.text, mode


def test_one_article_does_not_fill_every_slot(built_engine):
    answer = built_engine.ask("云山市氢能产业", top_k=5)
    per_article = {}
    for citation in answer.citations:
        per_article[citation.article_id] = per_article.get(citation.article_id, 0) + 1
    assert max(per_article.values()) <= 2


def test_follow_up_is_resolved_against_the_previous_question(built_engine):
    first = built_engine.ask("宁川县建成了多少个科技小院？")
    follow = built_engine.ask("那白河市呢？", history=[Turn(first.question, first.text)])
    assert "白河" in follow.question and "科技小院" not in follow.question or "白河" in follow.question
    assert follow.citations[0].article_title == "白河市推进科技成果转化"


def test_repeated_questions_cost_no_model_call(built_settings):
    calls = []

    class Counting(FakeEmbedder):
        def embed_query(self, text):
            calls.append(text)
            return super().embed_query(text)

    engine = open_engine(built_settings, Counting())
    for _ in range(3):
        engine.ask("云山市日加氢能力达到多少？")
    assert sorted(calls) == sorted(["云山市日加氢能力达到多少？", "日加氢能力达到多少？"])  # the question and its topic, once each


def test_same_fact_in_two_issues_cites_both(tmp_path):
    settings = build_fixture_index(tmp_path)
    again = tmp_path / "2024-05-yunshan.txt"
    again.write_text(
        "科技情报参考\n\n2024年第5期\n\n## 云山市氢能示范应用再提速\n\n"
        "云山市在公交、物流、港口等场景投放氢燃料电池汽车480辆，建成加氢站9座，日加氢能力达到13.5吨。"
        "下一步，云山市将新建加氢站4座，推动氢能重卡规模化应用。\n",
        encoding="utf-8",
    )
    add_bulletins(settings, FakeEmbedder(), [again])
    answer = open_engine(settings, FakeEmbedder()).ask("云山市日加氢能力达到多少？")
    assert answer.found and "13.5吨" in answer.text
    cited = [c.issue_label for c in answer.citations]
    assert {"2024年第3期", "2024年第5期"} <= set(cited[:3])
