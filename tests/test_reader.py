"""The reader's parts on their own: periods, evidence units, question parsing, the hard place and
period constraints, the weights file, and answers on the fixture bulletins (fake embedder)."""

from __future__ import annotations

import json
import subprocess
import sys
from dataclasses import replace
from pathlib import Path

import numpy as np
import pytest

from conftest import build_fixture_index
from qa.embed import FakeEmbedder
from qa.engine import open_engine
from qa.evaluate import auroc, judge
from qa.keywords import KeywordTokenizer
from qa.periods import agrees, conflicts, find_period, period_label
from qa.reader import ReaderUnavailable, load_weights, parse_question
from qa.reader.gold import gold_articles, holds_answer, squash
from qa.reader.features import _figures
from qa.reader.model import LinearModel, TreeModel, Weights
from qa.reader.question import resolve_follow_up, visible_text
from qa.reader.read import allowed, read
from qa.reader.spans import span_pairs
from qa.reader.train import WORDS, load_rows
from qa.schema import Article, Period
from qa.sentences import TermStats, article_sentences, term_stats

ROOT = Path(__file__).resolve().parent.parent
STATS = TermStats(100, 10.0, {"技术": 40, "合同": 30, "成交额": 20, "孵化器": 5})


# --- periods ---------------------------------------------------------------------------------

@pytest.mark.parametrize(
    "text, years, part",
    [
        ("2023年前三季度贵州技术合同成交额", {2023}, "Q1-3"),
        ("截至2022年底，全市", {2022}, "end"),
        ("淮南市2023年1—4月输出技术合同", {2023}, "M1-4"),
        ("2023年二季度新增项目", {2023}, "Q2"),
        ("2021—2023年累计", {2021, 2022, 2023}, "span"),  # a stretch of years
        ("“十四五”期间", {2021, 2022, 2023, 2024, 2025}, "span"),
        ("2021年7005.7亿元，是2012年的2.8倍", {2012, 2021}, None),  # two years, no stretch
        ("自2019年以来，2023年新增100家", {2019, 2023}, None),  # and one year of it (no issue year to end at)
        ("2023年第6期里介绍宜昌的文章", set(), None),  # an issue label is not a period
        ("上半年", set(), "H1"),
        ("2022年全年吸纳技术合同", {2022}, "year"),
        ("2023年1—12月", {2023}, "year"),
        ("2023年1到4月", {2023}, "M1-4"),  # the months in other words
        ("2022年前七个月", {2022}, "M1-7"),
        ("2023年头4个月", {2023}, "M1-4"),
        ("前三个月", set(), "Q1"),  # a named part is that part: it agrees with 一季度 and 1—3月
        ("1—6月", set(), "H1"),
        ("提前3个月完成", set(), None),  # no period
        ("202 3年这一比例提升至45.1%", {2023}, None),  # a year split by the text extraction
    ],
)
def test_periods_are_read_from_text(text, years, part):
    period = find_period(text)
    assert (set(period.years), period.part) == (years, part)


def test_relative_years_resolve_against_the_issue_year():
    assert find_period("今年3月", base_year=2023).years == {2023}
    assert find_period("较去年增长", base_year=2023).years == {2022}
    assert not find_period("今年3月").years  # a question has no issue year to resolve against


def test_period_conflicts_and_agreement():
    asked = Period(frozenset({2023}))
    assert conflicts(asked, Period(frozenset({2022})))
    assert not conflicts(asked, Period())  # nothing stated is no conflict
    assert not conflicts(asked, Period(frozenset({2021, 2022, 2023})))
    assert conflicts(Period(frozenset({2023}), "H1"), Period(frozenset({2023}), "Q1-3"))
    assert agrees(asked, Period(frozenset({2023}), "Q1-3")) and not agrees(asked, Period())
    assert period_label(Period(frozenset({2022}), "end")) == "2022年底"
    whole_year = Period(frozenset({2022}), "year")  # '2022年全年…': a figure for part of the year does not answer it
    assert conflicts(whole_year, Period(frozenset({2022}), "M1-7")) and conflicts(whole_year, Period(frozenset({2022}), "Q1-3"))
    assert not conflicts(whole_year, Period(frozenset({2022}))) and not conflicts(whole_year, Period(frozenset({2022}), "end"))
    assert period_label(whole_year) == "2022年全年"
    # '2023年…' asked: a part of 2023 is not the year's figure; its end, its whole year, or several years stated are
    assert conflicts(asked, Period(frozenset({2023}), "Q1-3")) and conflicts(asked, Period(frozenset({2023}), "M1-4"))
    assert not conflicts(asked, Period(frozenset({2023}), "end")) and not conflicts(asked, Period(frozenset({2023}), "year"))
    assert not conflicts(asked, Period(frozenset({2022, 2023}), "H1"))
    assert period_label(Period(frozenset({2012, 2021}))) == "2012年、2021年"  # not the range between them
    # a total over a stretch of years is no one year's figure, nor the figure of a shorter stretch
    stretch = find_period("2012—2021年，全市认定登记技术合同总计超76万项")
    assert conflicts(Period(frozenset({2020})), stretch) and conflicts(find_period("2019—2021年"), stretch)
    assert not conflicts(find_period("2012—2021年"), stretch) and not conflicts(Period(), stretch)
    assert period_label(stretch) == "2012—2021年"


def test_the_other_period_is_the_one_its_quoted_words_open_with():
    from qa.reader.read import _period_of

    in_force = Period(frozenset({2012, 2021}))
    assert _period_of("2021年，全市认定登记技术合同成交额7005.7亿元，是2012年的2.8倍。", in_force).years == {2021}
    sentence = "2021年，全市认定登记技术合同成交额7005.7亿元，是2012年的2.8倍。"  # quoted without its opening clause
    assert _period_of("全市认定登记技术合同成交额7005.7亿元，是2012年的2.8倍", in_force, sentence).years == {2021}
    assert _period_of("1-9月，全市吸纳技术合同成交额81.68亿元", Period(frozenset({2023}), "Q1-3")) == Period(
        frozenset({2023}), "Q1-3")


# --- evidence units --------------------------------------------------------------------------

ARTICLE = Article(
    id="2024-03/01", issue_id="2024-03", title="云山市加快氢能产业集群建设", ordinal=1,
    text=("2022年，云山市安排科技专项资金12.34亿元。全市新增氢能企业15家。\n"
          "强化平台支撑\n"
          "一是强化平台支撑。建成中试基地1个；2023年新建加氢站9座。"),
)


def test_every_sentence_keeps_offsets_heading_lead_and_the_period_in_force():
    sentences, context = article_sentences(ARTICLE, "2024年第3期", KeywordTokenizer())
    assert [ARTICLE.text[s.start : s.end] for s in sentences] == [s.text for s in sentences]
    first, second, lead, pilot, stations = sentences
    assert second.text == "全市新增氢能企业15家。"
    assert second.stated == Period() and second.in_force.years == {2022}  # carried within the paragraph
    assert lead.heading == "强化平台支撑" and lead.lead == ""
    assert pilot.lead == "一是强化平台支撑。"
    assert pilot.in_force == Period()  # a new paragraph starts without one
    assert stations.stated.years == {2023}
    assert context.base_year == 2024
    stats = term_stats(sentences)
    assert stats.sentences == 5 and stats.document_frequency["强化"] == 1


# --- questions and constraints ---------------------------------------------------------------

def test_a_question_is_parsed_into_kind_terms_places_period_and_unit():
    tokenizer = KeywordTokenizer()
    question = parse_question("2023年前三季度贵州技术合同成交额是多少？", tokenizer, STATS)
    assert question.kind == "number" and question.unit == "money"
    assert question.places == ("贵州",) and question.period.years == {2023} and question.period.part == "Q1-3"
    assert "成交额" in question.terms and "2023" not in question.terms and "多少" not in question.terms
    assert parse_question("宁夏有多少家孵化器？", tokenizer, STATS).unit == "家"
    assert parse_question("排名第几？", tokenizer, STATS).unit == "rank"
    assert parse_question("从哪几个方面推进改革？", tokenizer, STATS).kind == "entity"  # which ones, not how many
    assert parse_question("西安是怎么推进成果转化的？", tokenizer, STATS).kind == "how"
    assert parse_question("内蒙古是靠什么制度引导科研人员的？", tokenizer, STATS).focus == "制度"
    assert parse_question("这篇文章是哪一期刊登的？", tokenizer, STATS).kind == "issue"


@pytest.mark.parametrize("question, window, marked", [
    ("绵阳在城市科技创新竞争力50强里排第几？", "绵阳在“2023城市科技创新竞争力50强”榜单中排名第17位", "17位"),
    ("衢州土壤修复后pH是多少？", "土壤的pH由修复前的5.45升高至6.23，耕地修复取得明显成效。", "6.23"),
    ("衢州土壤修复前pH是多少？", "土壤的pH由修复前的5.45升高至6.23，耕地修复取得明显成效。", "5.45"),
    ("镉的有效态修复后降到多少？", "镉的有效态含量由0.18 mg/kg降至0.05 mg/kg", "0.05"),
    ("南京有几家国家级科技企业孵化器？", "全市共建有各类科技企业孵化器236家，其中国家级59家，省级64家", "59家"),
    ("南京有几家科技企业孵化器？", "全市共建有各类科技企业孵化器236家，其中国家级59家，省级64家", "236家"),
    ("柳州新能源汽车产量是多少？", "柳州市汽车产量达到178.6万辆，其中新能源汽车产量达到62.3万辆", "62.3万辆"),  # a long qualifier
    ("绵阳吸引了多少研发人员？", "吸引各类专业技术人才25.6万名、研发人员3.79万人", "3.79万人"),  # named right before it
    ("海曙的甬优水稻亩产多少？", "甬优“31”号实现亩产超千斤", "甬优“31”号实现亩产超千斤"),  # '31' in quotes is a name
    ("贵州给赋权项目的经费补助最多多少？", "按首笔贷款额的10%、最高不超过100万元，给予经费补助", "不超过100万元"),  # a bound's negation
])  # fmt: skip
def test_the_highlight_marks_the_figure_asked_for(question, window, marked):
    from qa.reader.spans import Window, highlight

    parsed = parse_question(question, KeywordTokenizer(), STATS)
    start, end = highlight(parsed, Window(100, 100 + len(window), window, 1, True, True))
    assert window[start - 100 : end - 100].startswith(marked)


def test_a_district_is_a_place_even_when_jieba_calls_it_a_noun():
    tokenizer = KeywordTokenizer()
    assert "碑林" in parse_question("碑林区的技术合同成交额？", tokenizer, STATS).places
    assert parse_question("国家高新区有多少家？", tokenizer, STATS).places == ()  # a kind of zone, not a place
    assert parse_question("开发区和园区一共几个？", tokenizer, STATS).places == ()


def test_only_a_real_place_is_a_place_not_a_word_jieba_tags_as_one():
    tokenizer = KeywordTokenizer()
    for text, places in (("鄂尔多斯高新区在国家高新区综合排名中居第几位？", ("鄂尔多斯",)),  # 中居
                         ("呼和浩特有几位院士上台做了主题报告？", ("呼和浩特",)),  # 上台
                         ("南京的高校科技园区一共有多少个？", ("南京",)),  # 科技园
                         ("在眉山办的许可可以在哪几个城市之间通用？", ("眉山",)),  # 城市
                         ("太原2022年有多少家高新技术企业？", ("太原",)),  # a city the bulletins never name
                         ("云南昆明选派了多少名科技特派员？", ("云南昆明",))):  # a province and a city in one word
        assert parse_question(text, tokenizer, STATS).places == places, text
    named = KeywordTokenizer(["宁川县 ns", "宁川 ns", "城市 ns", "广度 ns"])  # an invented place the corpus names
    assert parse_question("宁川县建成了多少个科技小院？", named, STATS).places == ("宁川",)
    assert parse_question("宁川的许可可以在哪几个城市之间通用？", named, STATS).places == ("宁川",)  # jieba's 'ns' alone
    assert parse_question("宁川推进合作的广度如何？", named, STATS).places == ("宁川",)


def test_a_city_implies_its_province_and_and_joins_places():
    tokenizer = KeywordTokenizer()
    both = parse_question("湖北宜昌2022年研发投入是多少？", tokenizer, STATS)
    assert both.required_places == ("宜昌",)
    joined = parse_question("黄山和淮南都推出了什么计划？", tokenizer, STATS)
    assert joined.places_any and set(joined.required_places) == {"黄山", "淮南"}
    two = parse_question("池州签约了多少个项目？淮南那边呢？", tokenizer, STATS)  # two questions, a place each
    assert two.places_any and set(two.required_places) == {"池州", "淮南"}
    three = parse_question("中国（安徽）交易会上，池州签约了多少个项目？淮南那边呢？", tokenizer, STATS)
    assert three.places_any and set(three.required_places) == {"池州", "淮南"}
    assert not parse_question("安徽池州签约了多少个项目？", tokenizer, STATS).places_any


def test_a_county_name_beside_another_province_and_a_district_inside_a_district_are_not_places():
    tokenizer = KeywordTokenizer()
    assert parse_question("湖北挨着大城市的县怎么搞创新？", tokenizer, STATS).places == ("湖北",)  # 大城县 is 河北's
    assert parse_question("宁夏新建了多少家孵化器？", tokenizer, STATS).places == ("宁夏",)  # 新建区 is 江西's
    assert parse_question("辽宁朝阳有多少家孵化器？", tokenizer, STATS).places == ("朝阳", "辽宁")  # 朝阳 is 辽宁's too
    # an older suffix is still the place (临川市, now 临川区), and a prefecture jieba tags as a name is one
    assert parse_question("临川市加氢站日加氢能力达到多少？", tokenizer, STATS).places == ("临川",)
    assert parse_question("湖北恩施州有多少家高新技术企业？", tokenizer, STATS).places == ("恩施", "湖北")
    named = KeywordTokenizer(["海曙 ns", "白河市 ns", "白河 ns"])  # places the bulletins name
    assert parse_question("海曙老城区的创新街区叫什么？", named, STATS).places == ("海曙",)  # its old town
    assert set(parse_question("海曙区、江北区的研发投入是多少？", tokenizer, STATS).places) == {"海曙", "江北"}
    # a bulletin's own city, though the table has only 白河县
    assert parse_question("白河市的技术合同成交额是多少？", named, STATS).places == ("白河",)


def _candidate(text: str, title: str, in_force: Period):
    from qa.retrieve import Candidate
    from qa.schema import Chunk, Hit
    from qa.sentences import ArticleContext, Sentence

    article = Article(id="x/01", issue_id="x", title=title, text=text, ordinal=1)
    sentence = Sentence("x/01", 0, 0, len(text), text, 0, "", "", in_force, in_force, (), tuple(text))
    hit = Hit(Chunk("x/01#0", "x/01", 0, 0, len(text), text), 0.1)
    return Candidate(sentence, article, "label", "x.txt", ArticleContext("x/01", (), (), None), "",
                     np.zeros(4), 0.5, 0.0, 0.0, 0.0, 0.5, 0.5, hit, 1, 1, False, Period())


def test_the_sentence_read_in_its_context_is_scored_against_the_other_candidates():
    from qa.reader.features import FEATURE_NAMES, pairs, vector

    question = parse_question("黄山市是怎样引育科技成果转化载体的？", KeywordTokenizer(), STATS)
    plain = _candidate("深化与长三角地区高校院所合作共建。", "黄山：加速科技成果转化", Period())
    in_context = replace(plain, context_dense=0.9, context_topic=0.8)
    apart = replace(plain, context_dense=0.6, context_topic=0.7)
    rows = [dict(zip(FEATURE_NAMES, vector(p))) for p in pairs(question, [in_context, apart], STATS)]
    assert [round(r["context_dense_gap"], 6) for r in rows] == [0.0, -0.3]
    assert [round(r["context_topic_gap"], 6) for r in rows] == [0.0, -0.1]
    assert rows[0]["dense_gap"] == rows[1]["dense_gap"] == 0.0  # the sentence's own cosine is the same


def test_place_and_period_named_in_the_question_are_hard_constraints():
    question = parse_question("宜昌市2023年研发经费投入是多少？", KeywordTokenizer(), STATS)
    of_2022 = _candidate("全市研发经费投入60亿元。", "湖北宜昌：聚力新型研发平台建设", Period(frozenset({2022})))
    undated = replace(of_2022, sentence=replace(of_2022.sentence, in_force=Period()))
    elsewhere = replace(undated, article=replace(undated.article, title="南京打造孵化器"))
    assert not allowed(question, of_2022)  # another year
    assert allowed(question, undated)  # no year stated: the model weighs it
    assert not allowed(question, elsewhere)  # the article never names 宜昌


def test_a_figure_asked_for_in_a_unit_needs_a_sentence_that_states_one():
    question = parse_question("宜昌市成果转化中试基地服务了多少家企业？", KeywordTokenizer(), STATS)
    assert question.kind == "number" and question.unit == "家"
    restates = _candidate("宜昌市成果转化中试基地为企业提供中试服务。", "湖北宜昌：聚力新型研发平台建设", Period())
    states = replace(restates, sentence=replace(restates.sentence, text="全年服务企业400余家。"))
    assert not allowed(question, restates)  # no figure: it cannot hold the number asked for
    assert allowed(question, states)
    how = parse_question("宜昌市是怎样建设成果转化中试基地的？", KeywordTokenizer(), STATS)
    assert allowed(how, restates)  # only a figure asked for needs one


def test_for_a_figure_asked_for_only_the_windows_that_state_one_compete():
    text = "宜昌市共建有成果转化中试基地10个，全年实现中试服务700多次，服务企业400余家。"
    candidate = _candidate(text, "湖北宜昌：聚力新型研发平台建设", Period())
    asked = parse_question("宜昌市中试基地一年做了多少次中试服务？", KeywordTokenizer(), STATS)
    windows = [p.window.text for p in span_pairs(asked, candidate)]
    assert windows and all("700多次" in w for w in windows)
    how = parse_question("宜昌市是怎样建设中试基地的？", KeywordTokenizer(), STATS)
    assert "宜昌市共建有成果转化中试基地10个" in [p.window.text for p in span_pairs(how, candidate)]
    none = parse_question("宜昌市中试基地有多少名专家？", KeywordTokenizer(), STATS)  # no window in 名: all of them
    assert len(span_pairs(none, candidate)) == len(span_pairs(how, candidate))


def test_a_how_question_is_not_answered_by_the_clause_that_restates_it():
    text = "为提高高校院所专利申请的效率，开展专利申请前评估工作，帮助科研人员节约时间成本。"
    candidate = _candidate(text, "陕西西安：推进科技成果转化", Period())
    stats = TermStats(100, 10.0, {"专利": 5, "申请": 10, "效率": 10, "评估": 5})
    how = parse_question("西安是怎样提高高校院所专利申请的效率的？", KeywordTokenizer(), stats)
    windows = [p.window.text for p in span_pairs(how, candidate)]
    assert "为提高高校院所专利申请的效率" not in windows  # alone it restates the question
    assert "开展专利申请前评估工作" in windows
    which = parse_question("西安提高了什么的效率？", KeywordTokenizer(), stats)
    assert "为提高高校院所专利申请的效率" in [p.window.text for p in span_pairs(which, candidate)]


@pytest.mark.parametrize("text, figures", [
    ("全年服务企业400余家。", ("400余家",)),  # '余' / '多' before the unit keep the unit
    ("已孵化200 余家企业，引进1000多万元。", ("200 余家", "1000多万元")),
    ("增长12.5%，排名第3位。", ("12.5%", "3位")),
    ("2023 年新增高企。", ()),  # a year is no figure
    ("多家企业参与。", ()),
])
def test_figures_keep_their_units(text, figures):
    assert _figures(text) == figures


def test_a_county_level_place_must_be_named_near_the_sentence():
    question = parse_question("黄冈市红安县建成了多少家省级企校联合创新中心？", KeywordTokenizer(), STATS)
    assert set(question.required_places) == {"黄冈", "红安"}
    city_wide = _candidate("建成省级企校联合创新中心43家。", "湖北黄冈：推进县域创新", Period())
    city_wide = replace(city_wide, article=replace(city_wide.article, text=city_wide.article.text + "红安薯芋产业技术研究院。"))
    assert not allowed(question, city_wide)  # the article names 红安 only elsewhere: the city's figure
    in_title = replace(city_wide, article=replace(city_wide.article, title="湖北黄冈红安县：推进县域创新"))
    assert allowed(question, in_title)  # an article about the county: every sentence is about it
    city = parse_question("黄冈建成了多少家省级企校联合创新中心？", KeywordTokenizer(), STATS)
    assert allowed(city, city_wide)  # a prefecture named elsewhere in the article is enough


def test_a_documents_title_does_not_set_what_kind_of_question_it_is():
    # 举措 in the title is no how-question: it asks who issued it
    question = parse_question("《关于推动呼包鄂乌一体化发展若干举措的通知》是谁印发的？", KeywordTokenizer(), STATS)
    assert question.kind == "entity"
    assert parse_question("内蒙古采取了哪些举措推动一体化？", KeywordTokenizer(), STATS).kind == "how"


def test_a_division_named_in_full_is_a_place_whatever_jieba_tags_it():
    # jieba tags 吴忠市 as a person's name
    assert parse_question("宁夏吴忠市有研发活动的规上工业企业占比是多少？", KeywordTokenizer(), STATS).required_places == ("吴忠",)


def test_the_topic_of_a_question_is_what_it_asks_about_its_places_and_period():
    from qa.reader.question import topic_of

    assert topic_of("宜昌市2023年研发经费投入是多少？", ("宜昌",)) == "研发经费投入是多少？"
    assert topic_of("2023年前三季度贵州技术合同成交额是多少？", ("贵州",)) == "技术合同成交额是多少？"
    assert topic_of("内蒙古自治区的研发投入是多少？", ("内蒙古",)) == "的研发投入是多少？"  # the suffixes place_stem takes off
    assert topic_of("锡林郭勒盟有多少家孵化器？", ("锡林郭勒",)) == "有多少家孵化器？"
    question = parse_question("南京有多少家孵化器？", KeywordTokenizer(), STATS)
    assert question.topic == "有多少家孵化器？"


def test_not_found_is_decided_by_the_answerable_model_and_the_confidence_is_the_answer_model():
    weights = load_weights()
    question = parse_question("宜昌市研发经费投入是多少？", KeywordTokenizer(), STATS)
    candidate = _candidate("全市研发经费投入60亿元。", "湖北宜昌：聚力新型研发平台建设", Period())
    flat = weights.answerable
    sure = replace(weights, answerable=replace(flat, coef=np.zeros_like(flat.coef), intercept=20.0, calibration=None))
    doubtful = replace(sure, answerable=replace(sure.answerable, intercept=-20.0))
    shown = read(question, [candidate], STATS, [candidate.hit], sure)
    refused = read(question, [candidate], STATS, [candidate.hit], doubtful)
    assert shown.found and "60亿元" in shown.text
    assert not refused.found and refused.text is None
    assert refused.confidence == shown.confidence  # the shown probability is the answer model's, either way


def test_an_enumerated_heading_is_marked_for_a_how_question():
    from qa.reader.features import FEATURE_NAMES, pairs, vector

    question = parse_question("长沙是怎样建立许可机制的？", KeywordTokenizer(), STATS)
    heading = _candidate("二是建立“先使用后付费”许可机制。", "长沙市推进科技成果转化", Period())
    body = _candidate("出台实施办法，中小微企业可先行免费试用高校院所的专利成果。", "长沙市推进科技成果转化", Period())
    marked = [dict(zip(FEATURE_NAMES, vector(p)))["how_heading"] for p in pairs(question, [heading, body], STATS)]
    assert question.kind == "how" and marked == [1.0, 0.0]


def test_a_heading_answers_how_with_the_sentences_under_it():
    from qa.reader.spans import body_under

    text = "健全技术需求征集机制。开展“三进”活动，实施技术需求征集分片包保。2023年以来调研36次。\n健全成果转化平台服务机制。"
    heading = _candidate(text, "池州：推进科技成果转化", Period())
    heading = replace(heading, sentence=replace(heading.sentence, end=11, text=text[:11]))
    body = body_under(heading)
    assert body.text == "开展“三进”活动，实施技术需求征集分片包保。2023年以来调研36次。"  # stops at the paragraph's end
    assert text[body.start : body.end] == body.text
    assert body_under(replace(heading, previous="前一句。")) is None  # not the paragraph's first sentence: no heading
    whole = replace(heading, sentence=replace(heading.sentence, end=len(text), text=text))
    assert body_under(whole) is None  # too long to be a heading


def test_a_span_model_unsure_between_two_windows_quotes_both():
    from qa.reader.read import MAX_JOINED_CHARS, UNSURE_SPAN, UNSURE_SPAN_HOW, _window
    from qa.reader.spans import windows

    text = "支持包头稀土高新区创建示范区，给予200万元支持，推动成果转化。"
    candidate = _candidate(text, "内蒙古：成果转化", Period())
    singles = [w for w in windows(candidate) if w.clauses == 1]
    sure, _ = _window(candidate, singles, np.array([0.9, 0.05, 0.05]), "entity")
    assert sure == singles[0]
    joined, probability = _window(candidate, singles, np.array([UNSURE_SPAN - 0.1, 0.05, 0.65 - UNSURE_SPAN]), "entity")
    assert joined.text == text[singles[0].start : singles[2].end] and probability == pytest.approx(0.55)
    assert len(joined.text) <= MAX_JOINED_CHARS and joined.clauses == 3
    far = replace(singles[2], start=singles[0].start + MAX_JOINED_CHARS + 1, end=singles[0].start + MAX_JOINED_CHARS + 5)
    assert _window(candidate, [singles[0], far], np.array([0.35, 0.65]), "entity")[0] == far  # too far apart: the best alone
    how = _window(candidate, singles, np.array([UNSURE_SPAN_HOW - 0.05, 0.05, 1.0 - UNSURE_SPAN_HOW]), "how")[0]
    assert how.clauses == 3  # a measure is quoted whole when the model is less sure than that
    assert _window(candidate, singles, np.array([UNSURE_SPAN_HOW - 0.05, 0.05, 1.0 - UNSURE_SPAN_HOW]), "number")[0] == singles[0]


def test_not_found_names_only_the_places_no_article_names():
    from qa.reader.read import _missing_places

    question = replace(parse_question("宜昌市研发经费投入是多少？", KeywordTokenizer(), STATS), places=("宜昌", "西陵"))
    yichang = _candidate("全市研发经费投入60亿元。", "湖北宜昌：聚力新型研发平台建设", Period())
    assert _missing_places(question, [yichang]) == ("西陵",)


def test_a_follow_up_takes_the_new_place_into_the_previous_question():
    tokenizer = KeywordTokenizer()
    assert resolve_follow_up("那南京呢？", ["宁夏有多少家孵化器？"], tokenizer) == "南京有多少家孵化器？"
    assert resolve_follow_up("南京有多少家孵化器？", [], tokenizer) == "南京有多少家孵化器？"
    assert resolve_follow_up("还有南京？", ["宁夏有多少家孵化器？"], tokenizer) == "南京有多少家孵化器？"
    # the previous place's scope word is not carried to another place (宁夏 is a region, not a city)
    assert resolve_follow_up("那宁夏呢？", ["南京全市共建有多少家孵化器？"], tokenizer) == "宁夏共建有多少家孵化器？"


def test_a_follow_up_may_change_the_period_or_the_metric_and_keep_the_rest():
    tokenizer = KeywordTokenizer()
    asked = ["北京2022年技术合同成交额是多少？"]
    assert resolve_follow_up("那2021年呢？", asked, tokenizer) == "北京2021年技术合同成交额是多少？"
    assert resolve_follow_up("那研发强度呢？", asked, tokenizer) == "2022年北京研发强度是多少？"
    assert resolve_follow_up("它的研发强度呢？", asked, tokenizer) == "2022年北京研发强度是多少？"


def test_a_short_question_of_its_own_is_not_read_as_a_follow_up():
    tokenizer = KeywordTokenizer()
    for own in ("深圳市研发强度是多少？", "技术合同成交额是多少？", "孵化器有几家？"):
        assert resolve_follow_up(own, ["2022年西安技术合同成交额是多少？"], tokenizer) == own


def test_invisible_characters_are_taken_out_of_a_question():
    assert visible_text("西\u200b安\u202e技术合同\x00成交额\ufeff是多少？") == "西安技术合同成交额是多少？"
    assert visible_text("贵州\t技术合同\n成交额") == "贵州 技术合同 成交额"


# --- the weights file ------------------------------------------------------------------------

def test_the_committed_weights_load_and_record_how_they_were_measured():
    weights = load_weights()
    assert weights.version.startswith("reader-")
    assert 0.0 < weights.not_found_below < 1.0
    floors = [floor for floor, _ in weights.confidence_words]
    assert floors == sorted(floors, reverse=True)
    levels = dict((words, level) for level, words in WORDS)
    assert all(floor >= levels[words] for floor, words in weights.confidence_words)  # 把握高 never below 0.95
    assert weights.words_for(0.0) == "把握较低"
    cv = weights.measured["cross_validation"]
    assert cv["questions"] == weights.measured["questions"] >= 400
    assert cv["false_reject_rate"] <= 0.05  # the threshold was chosen to keep this
    assert Path(ROOT / "qa" / "reader" / "weights.json").stat().st_size < 5_000_000


def test_weights_round_trip_and_refuse_other_features(tmp_path):
    weights = load_weights()
    again = Weights.from_json(json.loads(json.dumps(weights.to_json())))
    rows = np.random.default_rng(0).normal(size=(3, len(weights.sentence.features)))
    assert np.allclose(again.sentence.scores(rows), weights.sentence.scores(rows))
    data = weights.to_json()
    data["sentence"]["features"] = data["sentence"]["features"][:-1] + ["no_such_feature"]
    other = tmp_path / "weights.json"
    other.write_text(json.dumps(data), encoding="utf-8")
    with pytest.raises(ReaderUnavailable, match="qa train"):
        load_weights(other)
    broken = tmp_path / "broken.json"
    broken.write_text("{", encoding="utf-8")
    with pytest.raises(ReaderUnavailable):
        load_weights(broken)


def test_a_tree_model_walks_each_tree_and_sums_its_leaves():
    # one tree: x0 <= 0.5 → leaf 1 (value −1); else x1 <= 2 → leaf 3 (value 2), else leaf 4 (value 5)
    # and a one-leaf tree (value 0.5), smaller than the first: padded
    data = {"features": ["a", "b"], "rate": 0.1, "base": 1.0, "trees": [
        {"feature": [0, -2, 1, -2, -2], "threshold": [0.5, -2.0, 2.0, -2.0, -2.0],
         "left": [1, -1, 3, -1, -1], "right": [2, -1, 4, -1, -1], "value": [0.0, -1.0, 0.0, 2.0, 5.0]},
        {"feature": [-2], "threshold": [-2.0], "left": [-1], "right": [-1], "value": [0.5]}]}
    model = TreeModel.from_json(data)
    rows = np.array([[0.5, 9.0], [0.6, 2.0], [0.6, 2.1]])
    assert model.scores(rows).tolist() == pytest.approx([1.0 + 0.1 * (-1.0 + 0.5), 1.0 + 0.1 * 2.5, 1.0 + 0.1 * 5.5])
    assert TreeModel.from_json(json.loads(json.dumps(model.to_json()))).scores(rows).tolist() == model.scores(rows).tolist()


@pytest.mark.parametrize("damage", [
    lambda tree: tree["left"].__setitem__(0, 99),  # a child outside the tree
    lambda tree: tree["right"].__setitem__(0, -1),  # half a split
    lambda tree: tree["feature"].__setitem__(0, 999),  # a feature the model does not have
    lambda tree: tree["value"].__setitem__(1, float("nan")),
])
def test_a_damaged_tree_fails_at_load(tmp_path, damage):
    data = load_weights().to_json()
    damage(data["span"]["trees"][0])
    path = tmp_path / "weights.json"
    path.write_text(json.dumps(data), encoding="utf-8")
    with pytest.raises(ReaderUnavailable):
        load_weights(path)


def test_the_committed_span_model_survives_its_json():
    weights = load_weights()
    again = Weights.from_json(json.loads(json.dumps(weights.to_json())))
    rows = np.random.default_rng(1).normal(size=(20, len(weights.span.features)))
    assert np.allclose(again.span.scores(rows), weights.span.scores(rows))
    assert len(set(np.round(weights.span.scores(rows), 6))) > 1  # the trees do split these rows


def test_calibration_maps_scores_through_its_sigmoid():
    model = LinearModel(("a",), np.zeros(1), np.ones(1), np.ones(1), 0.0, calibration=(-2.0, 0.0))
    assert model.probabilities(np.array([[0.0], [1.0]])).tolist() == pytest.approx([0.5, 1 / (1 + np.exp(-2.0))])


# --- answers on the fixture bulletins --------------------------------------------------------

@pytest.fixture(scope="module")
def engine(tmp_path_factory):
    return open_engine(build_fixture_index(tmp_path_factory.mktemp("reader")), FakeEmbedder())


def test_an_answer_is_a_verbatim_clause_with_its_figure_highlighted(engine):
    answer = engine.ask("宁川县建成了多少个科技小院？")
    assert answer.found and answer.confidence_words
    article = engine.article(answer.citation.article_id)[1]
    assert article.text[answer.start : answer.end] == answer.text
    assert article.text[answer.highlight_start : answer.highlight_end] == "12个"


def test_another_period_is_not_found_but_cited_beside_it(engine):
    answer = engine.ask("白河市2022年技术合同成交额是多少？")  # the bulletin gives 2023
    assert not answer.found and answer.text is None
    note = answer.other_period
    assert note is not None and note.asked == "2022年" and note.stated == "2023年全年"  # "全年技术合同成交额…"
    assert "56.7亿元" in note.text and note.citation.article_title == "白河市推进科技成果转化"
    assert "2022年" in answer.message and "56.7亿元" in answer.message


def test_a_place_the_bulletins_never_name_is_not_found(engine):
    answer = engine.ask("海南省2023年技术合同成交额是多少？")
    assert not answer.found and "海南" in answer.message and answer.other_period is None


# --- data and evaluation helpers ---------------------------------------------------------------

def test_the_training_and_held_out_questions_are_verbatim_in_their_bulletins():
    files = sorted((ROOT / "train" / "questions").glob("*.jsonl")) + sorted((ROOT / "train" / "heldout").glob("*.jsonl"))
    assert len({path.parent.name for path in files}) == 2
    result = subprocess.run([sys.executable, str(ROOT / "train" / "check_questions.py"), *map(str, files)],
                            capture_output=True, text=True)
    assert result.returncode == 0, result.stdout
    assert "all gold spans verbatim" in result.stdout


def test_no_held_out_question_is_in_the_training_data():
    training = load_rows(ROOT / "train" / "questions")
    held_out = load_rows(ROOT / "train" / "heldout")
    assert held_out
    asked = {squash(row["question"]) for row in training}
    assert not [row["id"] for row in held_out if squash(row["question"]) in asked]
    assert not {row["id"] for row in held_out} & {row["id"] for row in training}


def test_the_checker_reads_full_width_digits_as_the_product_does(tmp_path):
    (tmp_path / "b.txt").write_text("新能源汽车产量达到６２．３万辆，占比２１．４％。", encoding="utf-8")
    row = {"id": "x-1", "question": "产量是多少？", "type": "number", "file": "b.txt", "article": "新能源汽车产量",
           "answer": "62.3万辆", "evidence": "新能源汽车产量达到62.3万辆"}
    (tmp_path / "q.jsonl").write_text(json.dumps(row, ensure_ascii=False) + "\n", encoding="utf-8")
    result = subprocess.run([sys.executable, str(ROOT / "train" / "check_questions.py"), str(tmp_path / "q.jsonl"),
                             "--seeds", str(tmp_path)], capture_output=True, text=True)
    assert result.returncode == 0 and "all gold spans verbatim" in result.stdout, result.stdout
    bad = dict(row, answer="62.4万辆", evidence="产量达到62.4万辆")
    (tmp_path / "q.jsonl").write_text(json.dumps(bad, ensure_ascii=False) + "\n", encoding="utf-8")
    result = subprocess.run([sys.executable, str(ROOT / "train" / "check_questions.py"), str(tmp_path / "q.jsonl"),
                             "--seeds", str(tmp_path)], capture_output=True, text=True)
    assert result.returncode == 1 and "not verbatim" in result.stdout


def test_gold_articles_are_found_by_their_evidence():
    articles = {ARTICLE.id: ARTICLE}
    row = {"type": "number", "answer": "9座", "evidence": "2023年新建加氢站9座", "article": "别的标题"}
    assert gold_articles(row, articles) == {ARTICLE.id}
    assert holds_answer(row, "新建加氢站 9座") and not holds_answer({"type": "unanswerable", "answer": None}, "9座")


def test_auroc_and_tight_judging():
    assert auroc([0.9, 0.8, 0.2], [True, True, False]) == 1.0
    assert auroc([0.5, 0.5], [True, False]) == 0.5
    assert auroc([0.5], [True]) is None
    from qa.schema import Answer, Citation

    cited = Citation("x", "l", "s", "x/01", "t", "p", 0, 1, 0.1)
    row = {"id": "a", "question": "q", "type": "number", "answer": "9座", "evidence": "新建加氢站9座", "article": "t"}
    long_text = "新建加氢站9座" + "很长的一段无关文字" * 5
    assert judge(row, Answer("q", True, "", text="新建加氢站9座", confidence=0.9, citation=cited))["tight"]
    assert not judge(row, Answer("q", True, "", text=long_text, confidence=0.9, citation=cited))["tight"]


def test_the_reader_version_is_in_the_manifest_and_the_status(engine):
    version = load_weights().version
    assert engine.snapshot().manifest.reader == version
    status = engine.status()
    assert status.reader == version and status.sentences == len(engine.snapshot().evidence.sentences)


def test_off_topic_questions_are_dealt_to_the_bulletins_folds_in_turn():
    from types import SimpleNamespace

    from qa.reader.train import OFF_TOPIC, deal_off_topic

    examples = [SimpleNamespace(group=g, row={"id": f"{g}-{n}"}) for n, g in
                enumerate(["t1", "t0", OFF_TOPIC, OFF_TOPIC, OFF_TOPIC, "t0"])]
    dealt = deal_off_topic(examples)
    assert [e.group for e in dealt] == ["t1", "t0", "t0", "t1", "t0", "t0"]
    assert deal_off_topic([SimpleNamespace(group=OFF_TOPIC, row={"id": "tx-1"})])[0].group == OFF_TOPIC  # no fold to join


def test_a_short_sentence_is_quoted_whole_unless_the_clauses_hold_the_figure_asked():
    from qa.reader.read import _holds_asked_figure

    count = parse_question("南京有多少家大学科技园？", KeywordTokenizer(), STATS)
    assert _holds_asked_figure(count, "建有大学科技园17家")
    assert not _holds_asked_figure(count, "建有大学科技园")  # no figure: the whole sentence is quoted
    assert not _holds_asked_figure(count, "总投资5亿元")  # a figure in another unit
    assert not _holds_asked_figure(parse_question("南京建了哪些大学科技园？", KeywordTokenizer(), STATS), "建有17家")


def test_an_announced_count_and_the_paragraph_leads_that_match_it():
    from qa.reader.items import _ANNOUNCES_RE, _count, _paragraph_leads

    assert [_count(_ANNOUNCES_RE.search(t)) for t in ("健全“四个机制”", "从十二个方面", "围绕3项任务", "如下")] == [4, 12, 3, 0]
    assert _count(_ANNOUNCES_RE.search("1" * 5000 + "个方面")) == 0  # a broken extraction's digits: no count, no crash
    text = "全市健全“两个机制”，成效明显。\n健全捕捉机制。成立专班。\n健全征集机制。开展调研。\n下一步，继续推进。"
    leads = _paragraph_leads(text, 0, 2)
    assert [text[a:b] for a, b in leads] == ["健全捕捉机制。", "健全征集机制。"]
    assert _paragraph_leads(text, 0, 3) == []  # the third paragraph is one sentence: no lead
    assert _paragraph_leads("共有“两个机制”。\n只有一段，没有下文。", 0, 2) == []


def test_an_entity_answer_highlights_the_names_asked_for():
    from types import SimpleNamespace

    from qa.reader.spans import _names_slot

    def slot(question: str, focus: str | None, text: str) -> str | None:
        found = _names_slot(SimpleNamespace(text=question, focus=focus), text)
        return text[found[0] : found[1]] if found else None

    listed = "推广模式，孵化出西部超导、炬光科技、铂力特、华秦科技等一大批科创板上市企业"
    assert slot("孵化出了哪些上市企业？", "企业", listed) == "孵化出西部超导、炬光科技、铂力特、华秦科技"  # to 等
    assert slot("孵化出了一家什么企业？", "企业", listed) is None  # one name asked for: no list
    assert slot("分别是哪几家？", None, "新增鹭芯半导体、海峡智联和鹭岛光电5家上市企业") == "新增鹭芯半导体、海峡智联和鹭岛光电"
    assert slot("有哪些要求？", None, "为科学、客观地评价人员的能力和水平") is None  # two words in a row, no list
    # a quoted name with the kind of thing asked for after it, not the first quote of the window
    assert slot("准备搞个什么行动？", "行动", "实施“提质进位”工程，开展“促优培育”行动") == "“促优培育”行动"
    assert slot("推出了什么计划？", "计划", "引进“海洋英才”集聚计划，吸引人才") == "“海洋英才”集聚计划"
    assert slot("开展了什么活动？", "活动", "实施“提质进位”工程") is None


RESPECTIVELY = "兴发集团、宜昌人福、宜化集团、安琪集团2022年累计完成研发投入分别达6.6亿元，5亿元、4.5亿元、5.8亿元。"
RANKED = ("呼和浩特金山高新区、包头稀土高新区综合排名均较上年度有显著提升，在全国参评的157家高新区中分别位列106位、"
          "75位，鄂尔多斯高新区综合排名较上年度有所提升，居104位。")


@pytest.mark.parametrize("question, text, figure", [
    ("安琪集团2022年累计完成的研发投入有多少？", RESPECTIVELY, "5.8亿元"),  # the fourth name: the fourth figure
    ("宜化集团研发投入多少？", RESPECTIVELY, "4.5亿元"),
    ("包头稀土高新区综合排名第几位？", RANKED, "75位"),
    ("呼和浩特金山高新区排第几？", RANKED, "106位"),
    ("兴发集团和宜化集团研发投入多少？", RESPECTIVELY, "6.6亿元，5亿元、4.5亿元"),  # two names: their figures and between
    ("呼和浩特金山高新区、包头稀土高新区各排第几？", RANKED, "106位、75位"),
    ("鄂尔多斯高新区排第几？", RANKED, None),  # not in the list
    ("全国一共有多少家高新区参评？", RANKED, None),  # no name of the list
    ("宜化集团研发投入有多少家？", RESPECTIVELY, None),  # asked in another unit
    ("三峡实验室两个项目各批了多少经费？", "三峡实验室包揽了两项国家重点研发计划项目，分别获批资金1778万元、2800万元。", None),
    ("安琪集团组建了什么中心？", "依托安琪集团、宜昌人福、兴发集团分别组建生物技术、仿制药、精细化工三大中心。", None),  # no figures
])  # fmt: skip
def test_figures_given_respectively_go_to_the_name_asked_about(question, text, figure):
    from qa.reader.respectively import aligned_figure

    aligned = aligned_figure(parse_question(question, KeywordTokenizer(), STATS), text)
    assert (text[aligned.start : aligned.end] if aligned else None) == figure
    if aligned:
        assert text[aligned.list_start :].startswith(("兴发集团", "呼和浩特金山高新区"))  # the answer quotes from the list


def test_a_place_the_question_is_about_does_not_name_an_item_beside_a_whole_name():
    from types import SimpleNamespace

    from qa.reader.respectively import aligned_figure

    def figure(question: str, places: tuple[str, ...]) -> str | None:
        found = aligned_figure(SimpleNamespace(text=question, kind="number", unit="money", places=places), RESPECTIVELY)
        return RESPECTIVELY[found.start : found.end] if found else None

    assert figure("宜昌兴发集团2022年在研发上投了多少钱？", ("宜昌",)) == "6.6亿元"  # 宜昌 is where, 兴发集团 who
    assert figure("宜昌人福研发投入多少钱？", ("宜昌",)) == "5亿元"
    assert figure("宜昌和兴发研发投入多少钱？", ("宜昌",)) == "6.6亿元，5亿元"  # 兴发 too short to outweigh 宜昌人福: both


def test_the_answer_runs_from_the_list_to_the_figure_asked_for():
    from types import SimpleNamespace

    from qa.reader.respectively import respective_answer
    from qa.reader.spans import Window

    text = "一批成长型企业研发投入增长超过30%，" + RESPECTIVELY
    sentence = SimpleNamespace(start=0, end=len(text) - 1, text=text)
    candidate = SimpleNamespace(sentence=sentence, article=SimpleNamespace(text=text))
    first = text.index("兴发集团")
    chosen = Window(first, text.index("，5亿元"), text[first : text.index("，5亿元")], 1, False, False, (1, 1))
    question = parse_question("安琪集团2022年累计完成的研发投入有多少？", KeywordTokenizer(), STATS)
    window, slot = respective_answer(question, candidate, chosen)
    assert window.text == "兴发集团、宜昌人福、宜化集团、安琪集团2022年累计完成研发投入分别达6.6亿元，5亿元、4.5亿元、5.8亿元"
    assert text[slot[0] : slot[1]] == "5.8亿元" and window.span == (1, 2) and window.last
    asked_first = parse_question("兴发集团研发投入有多少？", KeywordTokenizer(), STATS)
    assert respective_answer(asked_first, candidate, chosen) == (chosen, (text.index("6.6"), text.index("，5亿元")))


def test_the_confidence_shown_is_rounded_down_so_its_words_never_run_ahead_of_it():
    from qa.reader.read import shown_confidence

    weights = load_weights()
    floor = next(f for f, words in weights.confidence_words if words == "把握较高")
    just_under = floor - 0.0004  # rounded to nearest, 3 decimals, it would read as the floor itself
    assert shown_confidence(just_under) < floor
    assert weights.words_for(shown_confidence(just_under)) != "把握较高"
    assert shown_confidence(floor) == floor and weights.words_for(shown_confidence(floor)) == "把握较高"
    assert shown_confidence(0.9999) == 0.999 and shown_confidence(0.0) == 0.0


def test_an_entity_window_is_seen_with_the_names_it_holds_that_the_question_does_not():
    from qa.keywords import proper_names
    from qa.reader.spans import SPAN_FEATURE_NAMES, span_vector

    assert proper_names("成功邀请重庆大学潘复生院士开展产学研对接") == ("重庆大学", "潘复生")
    text = "在“院士池州行”活动中，成功邀请重庆大学潘复生院士开展产学研对接。"
    candidate = _candidate(text, "安徽池州：健全机制", Period())
    asked = parse_question("“院士池州行”活动请来了哪位院士？", KeywordTokenizer(), STATS)
    assert asked.kind == "entity"
    by_text = {s.window.text: dict(zip(SPAN_FEATURE_NAMES, span_vector(s))) for s in span_pairs(asked, candidate)}
    assert by_text["成功邀请重庆大学潘复生院士开展产学研对接"]["new_names"] > 0
    assert by_text["在“院士池州行”活动中"]["new_names"] == 0  # it restates the question: no name of its own
    number = parse_question("“院士池州行”活动举办了几场？", KeywordTokenizer(), STATS)
    assert all(dict(zip(SPAN_FEATURE_NAMES, span_vector(s)))["new_names"] == 0 for s in span_pairs(number, candidate))


def test_a_window_stopping_at_a_colon_runs_on_to_what_it_announces():
    from qa.reader.read import _past_colon
    from qa.reader.spans import windows

    text = "市科技局建立专家库，对每项需求开展“三问”论证：问技术是否真“卡脖子”、问企业是否真有需求。"
    candidate = _candidate(text, "福州市推行“揭榜挂帅”机制", Period())
    by_text = {w.text: w for w in windows(candidate)}
    announcing = by_text["对每项需求开展“三问”论证"]
    run_on = _past_colon(candidate, announcing)
    assert run_on.text == "对每项需求开展“三问”论证：问技术是否真“卡脖子”、问企业是否真有需求" and run_on.last
    plain = by_text["市科技局建立专家库"]  # it stops at a comma: left as it is
    assert _past_colon(candidate, plain) == plain


def test_an_entity_answer_that_names_nothing_new_is_seen_by_the_confidence():
    from qa.reader.confidence import ANSWER_FEATURE_NAMES, Reading, answer_vector
    from qa.reader.features import pairs

    question = parse_question("西安选了哪几所高校做“三项改革”试点？", KeywordTokenizer(), STATS)
    assert question.kind == "entity"
    candidate = _candidate("西安遴选西安交通大学、西北工业大学作为试点高校。", "西安市推进科技成果转化工作", Period())
    pair = pairs(question, [candidate], STATS)[0]

    def features(shown: str) -> dict[str, float]:
        reading = Reading(pair, 1.0, 0.0, 0.9, 1.0, 1, 1, question.kind, shown)
        return dict(zip(ANSWER_FEATURE_NAMES, answer_vector(reading)))

    restating = features("西安各试点高校围绕“三项改革”出台一系列政策")  # quotes only what the question quotes
    assert restating["names_nothing"] == 1.0 and restating["quotes_new"] == 0.0
    naming = features("遴选西安交通大学、西北工业大学作为试点高校")
    assert naming["names_nothing"] == 0.0
    assert features("实施“秦创原”计划")["quotes_new"] == 1.0
    number = Reading(pair, 1.0, 0.0, 0.9, 1.0, 1, 1, "number", "出台一系列政策")
    assert dict(zip(ANSWER_FEATURE_NAMES, answer_vector(number)))["names_nothing"] == 0.0  # entity questions only


def test_a_sentence_found_beside_the_retrieved_passage_is_cited_with_its_own_passage():
    from qa.reader.confidence import Reading
    from qa.reader.features import pairs
    from qa.reader.read import Choice, answer_for
    from qa.reader.spans import windows
    from qa.retrieve import _passage_of
    from qa.schema import Chunk, Hit

    lead = "西安市持续推进“三项改革”试点。"
    answer_sentence = "西安遴选西北工业大学、西北大学等5家驻市高校作为试点高校。"
    text = lead + "\n" + answer_sentence
    first = Chunk("x/01#0", "x/01", 0, 0, len(lead), lead)
    second = Chunk("x/01#1", "x/01", 1, len(lead) + 1, len(text), answer_sentence)

    class Passages:  # what _passage_of reads of a snapshot
        article_chunks = {"x/01": (first, second)}

    base = _candidate(text, "西安市推进科技成果转化工作", Period())
    sentence = replace(base.sentence, start=second.start, end=second.end, text=answer_sentence)
    assert _passage_of(Passages(), sentence, first) == second  # the passage that holds it, not the one it was beside
    # retrieved: the first passage; the sentence beside it holds the answer
    candidate = replace(base, sentence=sentence, hit=Hit(first, 0.3), neighbour=True, passage=second)
    question = parse_question("西安选了哪几所高校做试点？", KeywordTokenizer(), STATS)
    pair = pairs(question, [candidate], STATS)[0]
    window = next(w for w in windows(candidate) if "西北工业大学" in w.text)
    reading = Reading(pair, 2.0, 0.0, 0.9, 1.0, 1, 1, question.kind, window.text)
    choice = Choice(reading, window, (window.start, window.end), 0.9, 0.99, [(2.0, pair)])
    answer = answer_for(choice, question, [candidate], STATS, [candidate.hit], load_weights())
    assert answer.found and answer.citation.passage == answer_sentence
    assert answer.citation.start <= answer.start and answer.end <= answer.citation.end
    assert answer.citation.score == 0.3  # the retrieved passage's score
