"""Bulletin parsing: every seed yields exactly its articles, and each quirk of real extractions
is handled on a small hand-written bulletin."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from qa.build import load_corpus
from qa.corpus import parse_bulletin, read_issue
from qa.seeds import read_registry
from qa.errors import BadBulletin

SEEDS = Path(__file__).resolve().parent.parent / "seeds"

EXPECTED_TITLES = {
    "000_dac0edc6142bea7e.txt": (
        "2022年第10期",
        [
            "科技创新助力呼包鄂乌一体化发展取得实效",
            "浙江：温州国家自创区打造民营经济创新高地",
            "安徽省深化科技人才评价改革",
            "安徽省黄山市补短强弱加速科技成果转化",
            "湖北省科技厅从五个方面优化科技计划管理改革",
            "北京持续深化科技体制改革 创新引擎动能强劲",
        ],
    ),
    "001_66f2b3273df6b844.txt": (
        "2023年第6期",
        [
            "浙江：教育、科技、人才三位一体的创新“衢”动模式实践",
            "西安市推进科技成果转化工作",
            "四川省眉山市强化举措推进创新驱动发展",
            "安徽省淮南市四措并举推动“科创+产业”融合发展",
            "湖北宜昌：聚力新型研发平台建设 助力产业高质量发展",
        ],
    ),
    "002_525dc1f0fe07b199.txt": (
        "2023年第12期",
        [
            "内蒙古：“三大抓手”推进京蒙协作 “科技创新倍增计划”落地见效",
            "南京量质并举打造科技企业孵化器 完善全链条企业培育生态",
            "宁夏：涵养创新创业生态 激发科技创新活力",
            "贵州省启动职务科技成果赋权转化试点工作",
            "安徽省池州市健全“四个机制”推动科技成果转化",
            "湖北黄冈：加快创新平台建设 释放创新发展动能",
        ],
    ),
    "003_5dd16f904f44c7fc.txt": (
        None,
        [
            "内蒙古：优化一体化科技创新体系 推动呼包鄂乌一体化发展",
            "四川绵阳以科技人才“新引力”锻强科技创新发展“新实力”",
            "宁夏科技体制改革持续激发创新动能",
            "宁波海曙区硬科技创新攻坚促区域共富",
            "四川巴中四措并举强化科技项目管理",
            "浙江衢州：集聚创新优势 服务地方发展",
        ],
    ),
    "004_f05021f491741395.txt": (
        None,
        [
            "湖北：加快提升县域创新能力",
            "辽宁：打通科技成果转化链条",
            "甘肃：让高校科技成果有得转、值得转、转得好",
            "青海：着力打造高原战略科技力量",
        ],
    ),
}


@pytest.mark.parametrize("source", sorted(EXPECTED_TITLES))
def test_each_seed_parses_into_exactly_its_articles(source):
    label, titles = EXPECTED_TITLES[source]
    issue = read_issue(SEEDS / source)
    assert [a.title for a in issue.articles] == titles
    if label:
        assert issue.label == label
        assert issue.id == re.sub(r"(\d{4})年第(\d+)期", lambda m: f"{m[1]}-{int(m[2]):02d}", label)
    assert [a.id for a in issue.articles] == [f"{issue.id}/{n:02d}" for n in range(1, len(titles) + 1)]


def test_seed_text_is_clean_of_page_furniture():
    for issue in load_corpus(SEEDS):
        for article in issue.articles:
            assert "选析情报精华" not in article.text, article.id
            assert "★" not in article.text and "**" not in article.text
            assert not re.search(r"^\s*\d{1,3}\s*$", article.text, re.M), article.id
            assert "编辑：" not in article.text and "4366683" not in article.text
            assert not re.search(r"[\u4e00-\u9fff] [\u4e00-\u9fff，。]", article.text.replace(article.title, "")) or \
                "#" not in article.text


def test_shipped_labels_name_the_undated_issues():
    registry = read_registry(SEEDS)
    issues = {i.source: i for i in load_corpus(SEEDS)}
    for source in ("003_5dd16f904f44c7fc.txt", "004_f05021f491741395.txt"):
        assert issues[source].label == registry[source].label
        assert "期号" in issues[source].label


def test_every_shipped_seed_has_its_issue_id_registered():
    # The ids people link to never move: they come from seeds/issues.json, not from file order.
    registry = read_registry(SEEDS)
    issues = {i.source: i.id for i in load_corpus(SEEDS)}
    assert {source: registry[source].id for source in issues} == issues
    assert issues["000_dac0edc6142bea7e.txt"] == "2022-10" and issues["003_5dd16f904f44c7fc.txt"] == "2023-a"


def test_wrapped_lines_are_joined_without_spaces_and_numbers_stay_whole():
    issue = read_issue(SEEDS / "003_5dd16f904f44c7fc.txt")
    quzhou = issue.articles[-1].text
    assert "选派235名博士或副高以上职称的科研人员结对700家重点企业" in quzhou
    assert "土壤的pH由修复前的5.45升高至6.23" in quzhou
    # a footer and a page number sat between these two halves of one sentence
    assert "鼓励在人才引育、研发投入、平台建设、科技成果转化等方面先行先试，给予相关专项支持。" in issue.articles[0].text


def test_duplicated_article_is_indexed_once():
    issue = read_issue(SEEDS / "001_66f2b3273df6b844.txt")
    titles = [a.title for a in issue.articles]
    assert titles.count("安徽省淮南市四措并举推动“科创+产业”融合发展") == 1
    huainan = next(a for a in issue.articles if "淮南" in a.title)
    assert "同比增长4273%" in huainan.text
    assert huainan.text.count("强化创新主体培育") == 1


def test_multi_column_bylines_and_slogans_do_not_become_articles():
    issue = read_issue(SEEDS / "004_f05021f491741395.txt")
    hubei, liaoning, gansu, qinghai = issue.articles
    everything = "".join(a.title + a.text for a in issue.articles)
    for furniture in ("冯文胜", "冯艳飞", "张世荣", "陈永祥", "坚持科技是第一生产力", "调研报告摘登"):
        assert furniture not in everything
    # each article's text is its own, although both titles were printed before both bodies
    assert hubei.text.startswith("2023年初,《湖北省流域综合治理")
    assert "东北" not in hubei.text
    assert liaoning.text.startswith("习近平总书记主持召开新时代推动东北全面振兴座谈会")
    assert "湖北" not in liaoning.text
    assert "风险投资基金" in gansu.text and "国家科技数据灾备中心" in qinghai.text


def test_markdown_bulletin_with_toc_footers_and_wrapped_toc():
    text = """
# 科技情报参考

2024 年第 3 期

呼和浩特市科学技术局综合保障中心 编辑

- ★ 云山市推进“数智农业”示范区建设  
落地见效.....2
  - ★ 青石县科技特派员服务乡村振兴...4

## 云山市推进“数智农业”示范区建设 落地见效

云山市建成数智农业示范基地18个，带动

《科技情报参考》 选析情报精华 助力科技决策

7

农户增收2.6亿元。

### **一、强化平台支撑**

建设农业大数据中心1个。

## 青石县科技特派员服务乡村振兴

青石县选派科技特派员120名，服务农业企业56家，推广新品种31个。

**编辑：李 涛**

**电话：4366683**
"""
    issue = parse_bulletin(text, "yunshan.md")
    assert issue.label == "2024年第3期" and issue.id == "2024-03"
    assert [a.title for a in issue.articles] == [
        "云山市推进“数智农业”示范区建设 落地见效",
        "青石县科技特派员服务乡村振兴",
    ]
    first, second = issue.articles
    assert "云山市建成数智农业示范基地18个，带动农户增收2.6亿元。" in first.text
    assert "一、强化平台支撑" in first.text  # a sub-heading not in the TOC stays article text
    assert "4366683" not in second.text and "李" not in second.text


def test_plain_text_bulletin_without_header_uses_supplied_or_fallback_label():
    text = "白河市推进科技成果转化\n\n" + "白河市设立科技成果转化基金3亿元，支持高校院所成果本地转化。" * 4 + "\n"
    assert parse_bulletin(text, "baihe.txt", "2024年第5期").id == "2024-05"
    fallback = parse_bulletin(text, "baihe.txt")
    assert "baihe.txt" in fallback.label and fallback.id == "baihe"
    assert fallback.articles[0].title == "白河市推进科技成果转化"


def test_hard_wrapped_extraction_with_paragraph_end_marks():
    # a PDF extraction that wraps every ~20 characters and ends paragraphs with a space
    lines = [
        "宁川县打造特色农业科技小院 ",
        "宁川县依托农业大学建成科技小院12",
        "个，派驻研究生46名，推广滴灌水肥一体",
        "化技术3.2万亩。 ",
        "一是强化人才支撑。选派农技专家",
        "30名常驻小院。 ",
        "二是完善服务机制。建立专家与农户",
        "结对帮扶制度，累计服务农户2300户。 ",
        "白河市建设科技成果转化中试基地 ",
        "白河市依托高新区建成中试基地5个，",
        "服务企业160家，转化科技成果42项。 ",
        "全市技术合同成交额达到56.7亿元。 ",
    ]
    issue = parse_bulletin("\n\n".join(lines), "wrapped.txt", "2024年第6期")
    assert [a.title for a in issue.articles] == ["宁川县打造特色农业科技小院", "白河市建设科技成果转化中试基地"]
    assert issue.articles[0].text.split("\n") == [
        "宁川县依托农业大学建成科技小院12个，派驻研究生46名，推广滴灌水肥一体化技术3.2万亩。",
        "一是强化人才支撑。选派农技专家30名常驻小院。",
        "二是完善服务机制。建立专家与农户结对帮扶制度，累计服务农户2300户。",
    ]


@pytest.mark.parametrize(
    "content, message",
    [
        (b"", "空文件"),
        (b"   \n\n  ", "空文件"),
        (b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR" + bytes(range(256)) * 4, "二进制"),
        ("只是一句话，没有标题。".encode(), "没有可识别的文章"),
    ],
)
def test_bad_bulletins_raise_a_clear_error_naming_the_file(tmp_path, content, message):
    path = tmp_path / "bad-bulletin.txt"
    path.write_bytes(content)
    with pytest.raises(BadBulletin) as error:
        read_issue(path)
    assert "bad-bulletin.txt" in error.value.message
    assert message in error.value.message


def test_gb18030_bulletin_is_decoded(tmp_path):
    text = "科技情报参考\n\n2024年第7期\n\n## 青石县推进科技成果转化\n\n青石县技术合同成交额达到12.5亿元，同比增长30%。\n"
    path = tmp_path / "gbk.txt"
    path.write_bytes(text.encode("gb18030"))
    issue = read_issue(path)
    assert issue.label == "2024年第7期"
    assert "12.5亿元" in issue.articles[0].text


@pytest.mark.parametrize("title, cleaned", [
    ("浙江：教育、科技、人才三位一体的 创新“衢”动模式实践", "浙江：教育、科技、人才三位一体的创新“衢”动模式实践"),
    ("北京持续深化科技体制改革 创新引擎动能强劲", "北京持续深化科技体制改革 创新引擎动能强劲"),  # title and subtitle
    ("云 山市加快氢能产业集群建设  推动绿色发展", "云山市加快氢能产业集群建设 推动绿色发展"),
    ("OpenAI 大会 在京举行", "OpenAI 大会在京举行"),
    ("东岭县实施“科技副总”计划 引导人才向企业一线集聚", "东岭县实施“科技副总”计划 引导人才向企业一线集聚"),  # quoted term
    ("东岭县实施“科技 副总计划”引导人才", "东岭县实施“科技副总计划”引导人才"),  # inside quotes
])
def test_stray_spaces_between_chinese_characters_leave_titles(title, cleaned):
    from qa.corpus import clean_title

    assert clean_title(title) == cleaned


def test_seed_titles_carry_no_stray_space():
    for issue in load_corpus(SEEDS):
        for article in issue.articles:
            assert "的 " not in article.title, article.title


BODY_A = "株洲市深入实施“中国动力谷”建设行动，2023年全市轨道交通装备产业产值达到1620亿元，同比增长8.6%。" * 2
BODY_B = "2023年，大同市组建黄花、杂粮、肉羊等产业“科技特派团”14个，选派科技特派员286名。" * 2


def test_contents_without_page_numbers_do_not_swallow_the_first_article():
    text = (f"# 科技情报参考\n\n---\n\n★ 湖南株洲：轨道交通装备产业再上新台阶\n\n★ 山西大同：科技特派团助力乡村振兴\n\n"
            f"## 湖南株洲：轨道交通装备产业再上新台阶\n\n{BODY_A}\n\n## 山西大同：科技特派团助力乡村振兴\n\n{BODY_B}\n")
    issue = parse_bulletin(text, "undated.md")
    assert [a.title for a in issue.articles] == ["湖南株洲：轨道交通装备产业再上新台阶", "山西大同：科技特派团助力乡村振兴"]
    assert "1620亿元" in issue.articles[0].text


def test_a_contents_entry_wrapped_before_its_page_number_is_still_one_title():
    text = (f"科技情报参考\n2024年第7期\n★ 湖南株洲：轨道交通装备产业\n科技创新再上新台阶 ..... 2\n★ 山西大同：科技特派团助力乡村振兴 ..... 4\n"
            f"湖南株洲：轨道交通装备产业科技创新再上新台阶\n{BODY_A}\n山西大同：科技特派团助力乡村振兴\n{BODY_B}\n")
    issue = parse_bulletin(text, "x.txt")
    assert [a.title for a in issue.articles] == ["湖南株洲：轨道交通装备产业科技创新再上新台阶", "山西大同：科技特派团助力乡村振兴"]


@pytest.mark.parametrize("messy, clean", [
    ("产业产值达到１６２０亿元，占比２１．４％。", "产业产值达到1620亿元，占比21.4%。"),  # full-width digits and ％
    ("高新技术企业总数达到 1 526 家，研发投入 1 2.5 亿元，2 024 年", "高新技术企业总数达到1526家，研发投入12.5亿元，2024年"),
    ("评分分别为 10 20 30 分", "评分分别为10 20 30分"),  # a list of numbers stays apart
    ("在 2023 2024 年间", "在2023 2024年间"),  # two years: a lost dash, not a split number
    ("支持５Ｇ基站建设", "支持5G基站建设"),
])  # fmt: skip
def test_figures_are_read_as_the_reader_sees_them(messy, clean):
    issue = parse_bulletin(f"科技情报参考\n2024年第7期\n## 一篇文章的标题在这里\n{messy}{BODY_A}\n", "x.txt")
    assert issue.articles[0].text.startswith(clean)


def test_a_number_wrapped_onto_the_next_line_is_one_number():
    issue = parse_bulletin(f"科技情报参考\n2024年第7期\n## 一篇文章的标题在这里\n2022年高校院所科技成果在本地转化的比例为38.6%；202\n"
                           f"3年这一比例提升至45.1%，{BODY_A}\n", "x.txt")
    assert issue.articles[0].text.startswith("2022年高校院所科技成果在本地转化的比例为38.6%；2023年这一比例提升至45.1%")


def test_a_running_head_inside_an_article_is_dropped():
    text = (f"科技情报参考 2024年第7期\n## 一篇文章的标题在这里\n{BODY_A}\n科技情报参考 2024年第7期 第3页\n{BODY_B}\n"
            f"2024年第7期 — 4 —\n{BODY_A}\n")
    issue = parse_bulletin(text, "x.txt")
    assert issue.label == "2024年第7期" and len(issue.articles) == 1
    assert "科技情报参考" not in issue.articles[0].text and "第3页" not in issue.articles[0].text
    assert "— 4 —" not in issue.articles[0].text and "2024年第7期" not in issue.articles[0].text
