"""Periods named in a text: '2023年前三季度' → Period(years={2023}, part='Q1-3').

Used twice: at build time, the period stated in every sentence (and the one in force from earlier
in its paragraph); at question time, the period the question asks about — a hard constraint on
the answer. Issue labels ('2023年第6期') are references to an issue, not periods.
"""

from __future__ import annotations

import re

from .schema import Period

_YEAR = r"(?:19|20)\d\d"
_CN_DIGITS = {"一": 1, "二": 2, "两": 2, "三": 3, "四": 4, "五": 5, "六": 6, "七": 7, "八": 8, "九": 9, "十": 10}
_ISSUE_LABEL_RE = re.compile(rf"{_YEAR}\s*年\s*第\s*\d{{1,3}}\s*期")
_YEAR_RANGE_RE = re.compile(rf"({_YEAR})\s*(?:年)?\s*[—–\-~～至到]\s*({_YEAR})\s*年")
_YEAR_SINCE_RE = re.compile(rf"(?:自|从)?\s*({_YEAR})\s*年\s*(?:以来|起|至今)")
_YEAR_RE = re.compile(rf"({_YEAR})\s*(?:年度?|年)")
_BARE_YEAR_RE = re.compile(rf"(?<!\d)({_YEAR})(?=\s*(?:城市|榜单|中国|全国|年度))")
_FIVE_YEAR_PLAN_RE = re.compile(r"“?十([三四五])五”?(?:期间|时期|以来|规划)?")
_RELATIVE_RE = re.compile(r"(今年|去年|上年|前年|明年)")
# A year whose digits a text extraction split with a space ('202 3年'): read as the year.
_SPACED_YEAR_RE = re.compile(r"(?<!\d)(?:1\s?9|2\s?0)\s?\d\s?\d(?=\s*年)")
_CN_MONTHS = r"[一二两三四五六七八九十]{1,2}"
_PARTS = (
    ("H1", re.compile(r"上半年")),
    ("H2", re.compile(r"下半年")),
    ("Q1-3", re.compile(r"前三季度|1\s*[—–\-~～至]\s*9\s*月|一至九月")),
    ("Q1", re.compile(r"(?<![前上下二两三四])(?:第)?一季度|1\s*[—–\-~～至]\s*3\s*月")),
    ("Q2", re.compile(r"(?<![前上下])(?:第)?二季度")),
    ("Q3", re.compile(r"(?<!前)(?:第)?三季度")),
    ("Q4", re.compile(r"(?:第)?四季度")),
    ("M", re.compile(r"(?<![\d.])(\d{1,2})\s*[—–\-~～至到]\s*(\d{1,2})\s*月|([一二三四五六七八九十]{1,2})[至到]([一二三四五六七八九十]{1,2})月")),
    # the year's first months in words: '前七个月', '头4个月' (1—7月, 1—4月)
    # ('提前3个月' is no period)
    ("M1", re.compile(rf"(?<![提目此之以先])[前头]\s*(\d{{1,2}}|{_CN_MONTHS})\s*个?月")),
    ("end", re.compile(r"年底|年末|年终")),
    ("year", re.compile(r"全年|全年度|整年")),
)
SPAN = "span"  # the part of a Period that is a stretch of years ('2012—2021年', '2019年以来', '十四五')
_PART_PREFERENCE = ("Q1-3", "H1", "H2", "Q1", "Q2", "Q3", "Q4", "M", "M1", "end", "year")


_PHRASES = (_YEAR_RANGE_RE, _YEAR_SINCE_RE, _YEAR_RE, _FIVE_YEAR_PLAN_RE, _RELATIVE_RE, *(pattern for _, pattern in _PARTS))


def period_spans(text: str) -> list[tuple[int, int]]:
    """Where a text names a period, by the patterns find_period reads: (start, end) of each phrase, the pieces
    of one phrase joined ('2023年' + '前三季度' → '2023年前三季度', '2022年' + '年底' → '2022年底')."""
    merged: list[list[int]] = []
    for start, end in sorted(m.span() for pattern in _PHRASES for m in pattern.finditer(text)):
        if merged and (start <= merged[-1][1] or not text[merged[-1][1] : start].strip()):
            merged[-1][1] = max(merged[-1][1], end)
        else:
            merged.append([start, end])
    return [(start, end) for start, end in merged]


_PART_NAMES = {"H1": "上半年", "H2": "下半年", "Q1-3": "前三季度", "Q1": "一季度", "Q2": "二季度", "Q3": "三季度",
               "Q4": "四季度", "end": "底", "year": "全年"}


def period_label(period: Period) -> str:
    """Period(years={2022}, part='H1') → '2022年上半年'."""
    years = sorted(period.years)
    if len(years) > 1 and years[-1] - years[0] + 1 != len(years):  # '2012年、2021年', not the range between
        text = "、".join(f"{year}年" for year in years)
    else:
        text = f"{years[0]}年" if len(years) == 1 else (f"{years[0]}—{years[-1]}年" if years else "")
    part = period.part or ""
    if part.startswith("M"):
        first, _, last = part[1:].partition("-")
        return f"{text}{first}—{last}月"
    return text + _PART_NAMES.get(part, "")


def find_period(text: str, base_year: int | None = None) -> Period:
    """The period a text states (empty Period if none). `base_year` resolves 今年/去年."""
    text = _SPACED_YEAR_RE.sub(lambda m: re.sub(r"\s", "", m.group(0)), _ISSUE_LABEL_RE.sub("", text))
    years: set[int] = set()
    spans: list[tuple[int, int]] = []  # where several years are named as one stretch of time
    for match in _YEAR_RANGE_RE.finditer(text):
        first, last = map(int, match.groups())
        if first <= last <= first + 30:
            years.update(range(first, last + 1))
            spans.append(match.span())
    for match in _YEAR_SINCE_RE.finditer(text):
        since = int(match.group(1))
        years.update(range(since, max(base_year or since, since) + 1))
        spans.append(match.span())
    for match in _FIVE_YEAR_PLAN_RE.finditer(text):
        start = {"三": 2016, "四": 2021, "五": 2026}[match.group(1)]
        years.update(range(start, start + 5))
        spans.append(match.span())
    single = [int(m.group(1)) for pattern in (_YEAR_RE, _BARE_YEAR_RE) for m in pattern.finditer(text)
              if not any(a <= m.start() < b for a, b in spans)]
    years.update(single)
    relative = _RELATIVE_RE.findall(text) if base_year is not None else []
    for word in relative:
        years.add(base_year + {"今年": 0, "明年": 1, "去年": -1, "上年": -1, "前年": -2}[word])
    part = _part(text)
    if part is None and spans and not single and not relative and len(years) > 1:
        part = SPAN  # '2012—2021年，…总计超76万项': a total over the years, no one year's figure
    return Period(frozenset(years), part)


def _part(text: str) -> str | None:
    found = {}
    for name, pattern in _PARTS:
        match = pattern.search(text)
        if match:
            found[name] = _months(match) if name == "M" else _first_months(match) if name == "M1" else name
    return next((found[name] for name in _PART_PREFERENCE if name in found), None)


def _months(match: re.Match) -> str:
    first, last, cn_first, cn_last = match.groups()
    months = (int(first), int(last)) if first else (cn_number(cn_first), cn_number(cn_last))
    return _part_of_months(*months)


def _first_months(match: re.Match) -> str:
    (count,) = match.groups()
    return _part_of_months(1, cn_number(count))


# Months that are a named part of the year are that part, so that '前三个月' and '一季度' agree.
_NAMED_MONTHS = {(1, 3): "Q1", (1, 6): "H1", (1, 9): "Q1-3", (1, 12): "year", (7, 12): "H2", (4, 6): "Q2",
                 (7, 9): "Q3", (10, 12): "Q4"}


def _part_of_months(first: int, last: int) -> str:
    return _NAMED_MONTHS.get((first, last), f"M{first}-{last}")


def cn_number(text: str) -> int:
    """A number written in digits or in Chinese up to 99 ('12', '十二', '二十三', '两'); 0 when it is none — or longer
    (a run of digits from a broken extraction, which int() would refuse past 4,300 of them)."""
    if text.isdigit():
        return int(text) if len(text) <= 2 else 0
    tens, ten, ones = text.partition("十")
    if not ten:
        return _CN_DIGITS.get(text, 0)
    return (_CN_DIGITS.get(tens, 0) if tens else 1) * 10 + _CN_DIGITS.get(ones, 0)


def conflicts(asked: Period, stated: Period) -> bool:
    """True when a statement is about another period than the one asked: other years, the same
    year but another part of it, or a stretch of years around the ones asked ('2012—2021年' for
    '2020年'). Nothing stated is no conflict (the reader weighs that)."""
    if asked.years and stated.years and not asked.years & stated.years:
        return True
    if stated.part == SPAN:
        return bool(asked.years) and not stated.years <= asked.years
    if asked.part and stated.part and asked.part != stated.part:
        return not (asked.part == "end" or stated.part == "end")
    if asked.years and not asked.part and stated.part not in _WHOLE_YEAR:
        return stated.years <= asked.years  # '2023年…' asked, '2023年前三季度…' stated: a part is not the year
    return False


_WHOLE_YEAR = (None, "year", "end")  # a year's figure, its whole-year figure, its figure at the year's end


def agrees(asked: Period, stated: Period) -> bool:
    """True when a statement names the asked period (its years, and its part if one is asked)."""
    if not asked:
        return False
    years_ok = not asked.years or bool(asked.years & stated.years)
    part_ok = not asked.part or asked.part == stated.part
    return years_ok and part_ok and bool(stated)
