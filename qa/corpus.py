"""Bulletin text → Issue with clean Articles.

Handles what real text extractions of 《科技情报参考》 look like: markdown or plain headings, a table of
contents with ★ and page numbers, page footers and numbers mid-text, lines wrapped mid-sentence,
bylines and slogans mixed into the flow by multi-column layouts, and an article printed twice.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from difflib import SequenceMatcher
from pathlib import Path

from .errors import BadBulletin
from .layout import split_stacked_headings
from .schema import Article, Issue

PARSER_VERSION = 10
"""Bump when parsing or period reading changes, so `qa build` re-parses unchanged files. 10: full-width digits, numbers
split by spaces or a line break (`1 526家`, `202`/`3年`), running heads (`科技情报参考 2024年第7期 第3页`) dropped, a
contents line without a page number never takes the lines after it; 9: a stretch of years (2012—2021年, 2019年以来)
read as one; 8: a long title is not cut into 8-character keyword pieces; 7: months in words (前七个月, 1到4月) and
split years (202 3年)."""
MIN_ARTICLE_CHARS = 100  # a "heading" whose text is shorter is a banner, not an article

_CJK = r"\u3000-\u303f\u4e00-\u9fff\uff00-\uffef"
ISSUE_LABEL_RE = re.compile(r"(\d{4})\s*年\s*第\s*(\d{1,3})\s*期")
_FOOTER_RE = re.compile(r"科技情报参考\W*选析情报精华\s*助力科技决策")
_MASTHEAD_RE = re.compile(r"^《?科技情报参考》?$")
# a page's running head, repeated inside the articles: '科技情报参考 2024年第7期 第3页', '2024年第7期 — 3 —'
_RUNNING_HEAD_RE = re.compile(
    r"^(?:《?科技情报参考》?\s*)?(?:\d{4}\s*年\s*第\s*\d{1,3}\s*期)?\s*(?:第\s*\d{1,3}\s*页|[-—–]?\s*\d{1,3}\s*[-—–]?)?$"
)
# full-width digits, letters and ％ (text extraction keeps them; the reader reads figures in ASCII)
_FULL_WIDTH = str.maketrans({chr(code): chr(code - 0xFEE0) for code in (*range(0xFF10, 0xFF1A), *range(0xFF21, 0xFF3B),
                                                                        *range(0xFF41, 0xFF5B), 0xFF05)})
_FULL_WIDTH_POINT_RE = re.compile(r"(?<=\d)．(?=\d)")
# a number split by spaces ('1 526家', '1 2.5亿元', '2 024年'): a run of digits right after a character that is
# neither a digit nor a space, a space, and digits going on to a unit or a word; not a list of numbers ('10 20 30'),
# nor two whole years or numbers of four digits each ('2023 2024年' has lost its dash, not a space)
_SPLIT_NUMBER_RE = re.compile(r"(?<![\d.,\s])(\d+)((?:\.\d+)?)\s+(?=(\d+)(?:\.\d+)?[^\d\s.,])")
_PAGE_NUMBER_RE = re.compile(r"^(?:第\s*)?[-—–]?\s*\d{1,3}\s*[-—–]?\s*(?:页)?$")
_SEPARATOR_RE = re.compile(r"^[-—–_=*·•.。\s]*$")
_EDITOR_RE = re.compile(r"综合保障中心\s*编\s*辑$|^(?:编\s*辑|电\s*话|主\s*编|责任编辑|地\s*址|邮\s*箱)\s*[：:]")
_BYLINE_RE = re.compile(
    rf"^[\u4e00-\u9fff]{{2,4}}\s+[{_CJK}、（）()]{{2,30}}"
    r"(?:书记|厅长|局长|主任|院长|市长|县长|区长|部长|处长|科长|委员|研究员|教授|记者|通讯员|供稿)$"
)
# "张某某 陕西省宝鸡市科学技术局": people, a space, an organisation (and a post); only right under a title.
_AUTHOR_RE = re.compile(
    r"^[\u4e00-\u9fff]{2,4}(?:[、，,\s]+[\u4e00-\u9fff]{2,4})*\s+[\u4e00-\u9fff（）()]{2,30}"
    r"(?:局|厅|委|委员会|院|所|中心|大学|学院|学校|公司|集团|办公室|办|部|站|馆|协会|学会|管委会|政府|园区|实验室)"
    r"[\u4e00-\u9fff、]{0,12}$"
)
_TOC_TAIL_RE = re.compile(r"\s*(?:[.．…·]{2,}\s*)(\d{1,3})\s*$")
ENUMERATION_RE = re.compile(
    r"^(?:[一二三四五六七八九十]+[、是要]|[（(]\s*[一二三四五六七八九十\d]+\s*[)）]|\d{1,2}\s*[.、．]\s*\D"
    r"|首先|其次|再次|最后|第[一二三四五六七八九十]+|——)"
)
_SENTENCE_END = "。！？!?…"
_CLOSERS = "”’」』）)】"
_INNER_STOPS = re.compile(r"[，。；！？,;!?]")


@dataclass(frozen=True, slots=True)
class _Line:
    text: str
    markdown_heading: bool = False
    # Some PDF extractions end every paragraph's last line with a space and nothing else:
    # then `closed` says whether the paragraph ends here; None when the file has no such marker.
    closed: bool | None = None
    byline: bool = False  # names people and their organisation: an author line, never body text


@dataclass(slots=True)
class _Block:
    """A heading or a paragraph of body text, in reading order."""

    text: str
    is_heading: bool
    keeps_spacing: bool = False  # markdown sub-headings keep their "主题 副题" space
    author: str | None = None  # a heading's byline


def issue_id_for(label: str, source: str) -> str:
    """'2023年第12期' → '2023-12'; labels without a number fall back to the source file's stem."""
    match = ISSUE_LABEL_RE.search(label)
    if match:
        return f"{match.group(1)}-{int(match.group(2)):02d}"
    stem = Path(source).stem.lower()
    return re.sub(r"[^0-9a-z]+", "-", stem).strip("-") or "issue"


def fallback_label(source: str) -> str:
    return f"未注明期号（{source}）"


def parse_bulletin(text: str, source: str, label: str | None = None) -> Issue:
    """Parse one bulletin's text. `label` overrides any label found in the text."""
    lines = _clean_lines(text)
    found_label, lines = _take_issue_label(lines)
    lines = [None if line is not None and _RUNNING_HEAD_RE.match(line.text) else line for line in lines]
    label = label or found_label or fallback_label(source)
    toc_titles, lines = _take_toc(lines)
    blocks = _blocks(lines, toc_titles)
    trusted = bool(toc_titles) or any(line is not None and line.markdown_heading for line in lines)
    sections = _articles_from_blocks(blocks, min_chars=0 if trusted else MIN_ARTICLE_CHARS)
    if not sections:
        raise BadBulletin(f"{source}：没有可识别的文章（找不到标题）")
    issue_id = issue_id_for(label, source)
    articles = tuple(
        Article(id=f"{issue_id}/{n:02d}", issue_id=issue_id, title=clean_title(title), text=body, ordinal=n, author=author)
        for n, (title, body, author) in enumerate(_drop_duplicates(sections), start=1)
    )
    return Issue(id=issue_id, label=label, source=source, articles=articles)


def read_issue(path: Path, label: str | None = None, *, progress: bool = False) -> Issue:
    """Read and parse a bulletin file (any form `qa.ingest` reads); OCR'd articles keep their confidence."""
    from dataclasses import replace

    from .ingest import ocr_confidence, read_bulletin

    bulletin = read_bulletin(path, progress=progress)
    issue = parse_bulletin(bulletin.text, path.name, label)
    if not bulletin.ocr_paragraphs:
        return issue
    articles = tuple(
        replace(a, ocr_confidence=ocr_confidence(a.title + a.text, bulletin.ocr_paragraphs)) for a in issue.articles
    )
    return replace(issue, articles=articles)


# --- lines -----------------------------------------------------------------------------------


def _marks_paragraph_ends(raw_lines: list[str]) -> bool:
    """Does this extraction put a trailing space after (and only after) a paragraph's last line?"""
    sentence_ends = [raw for raw in raw_lines if raw.strip() and raw.rstrip()[-1] in _SENTENCE_END]
    marked = sum(1 for raw in sentence_ends if raw != raw.rstrip())
    return len(sentence_ends) >= 5 and marked >= 0.8 * len(sentence_ends)


def _clean_lines(text: str) -> list[_Line | None]:
    """Strip markup and page furniture; None marks a blank line."""
    raw_lines = text.split("\n")
    end_marker = _marks_paragraph_ends(raw_lines)
    lines: list[_Line | None] = []
    for raw in raw_lines:
        line = _FULL_WIDTH_POINT_RE.sub(".", raw.translate(_FULL_WIDTH)).replace("\u3000", " ").strip()
        markdown_heading = bool(re.match(r"^#{1,6}\s", line))
        line = re.sub(r"^#{1,6}\s+", "", line)
        line = re.sub(r"^(?:[-*+]\s+)+", "", line).replace("**", "").strip()
        if _is_furniture(line):
            lines.append(None)
        else:
            closed = (raw != raw.rstrip()) if end_marker else None
            byline = bool(_BYLINE_RE.match(line) or _AUTHOR_RE.match(line))
            lines.append(_Line(line, markdown_heading, closed, byline))
    return lines


def _is_furniture(line: str) -> bool:
    return bool(
        _SEPARATOR_RE.match(line)
        or _PAGE_NUMBER_RE.match(line)
        or _FOOTER_RE.search(line)
        or _MASTHEAD_RE.match(line)
        or _EDITOR_RE.search(line)
    )


def _take_issue_label(lines: list[_Line | None]) -> tuple[str | None, list[_Line | None]]:
    """Find '2023 年第 12 期' in the masthead (first lines) and drop that line."""
    seen = 0
    for i, line in enumerate(lines):
        if line is None:
            continue
        seen += 1
        if seen > 8:
            break
        match = ISSUE_LABEL_RE.search(line.text)
        if match and len(line.text) <= len(match.group(0)) + 12:
            label = f"{match.group(1)}年第{int(match.group(2))}期"
            return label, lines[:i] + [None] + lines[i + 1 :]
    return None, lines


def _take_toc(lines: list[_Line | None]) -> tuple[list[str], list[_Line | None]]:
    """Collect table-of-contents titles ('★ title ..... 2', possibly wrapped) and drop those lines."""
    titles: list[str] = []
    kept = list(lines)
    i = 0
    while i < len(kept):
        line = kept[i]
        if line is None or "★" not in line.text:
            i += 1
            continue
        entry, used = line.text, [i]
        j = i + 1
        while not _TOC_TAIL_RE.search(entry) and j < len(kept) and j - i <= 4:
            nxt = kept[j]
            if nxt is not None:
                if "★" in nxt.text or nxt.markdown_heading:
                    break
                entry += nxt.text
                used.append(j)
            j += 1
        if not _TOC_TAIL_RE.search(entry):  # no page number: an entry of its own line, not wrapped onto the next
            entry, used = line.text, [i]
        title = _TOC_TAIL_RE.sub("", entry).replace("★", "").strip(" -")
        if title:
            titles.append(title)
        for k in used:
            kept[k] = None
        i = used[-1] + 1
    return titles, kept


# --- blocks: headings and paragraphs ------------------------------------------------------------


def _norm(title: str) -> str:
    return re.sub(r"[^0-9A-Za-z\u4e00-\u9fff]", "", title)


def _matches_toc(text: str, toc: list[str]) -> bool:
    key = _norm(text)
    if not key:
        return False
    for title in toc:
        other = _norm(title)
        if key == other or (len(other) >= 6 and (other in key or key in other)):
            return True
        if SequenceMatcher(None, key, other).ratio() >= 0.85:
            return True
    return False


def _toc_spelling(text: str, toc: list[str]) -> str:
    """A heading as the table of contents spells it, when they differ only in spacing (a space lost
    where the heading wrapped, or in OCR)."""
    key = _norm(text)
    spelled = next((title for title in toc if _norm(title) == key), text)
    return spelled if spelled.count(" ") > text.count(" ") else text  # a wrapped TOC entry loses spaces too


def _heading_shaped(text: str) -> bool:
    cjk = len(re.findall(r"[\u4e00-\u9fff]", text))
    return (
        4 <= cjk
        and len(text) <= 40
        and not _INNER_STOPS.search(text)
        and text[-1] not in "：:、"
        and not ENUMERATION_RE.match(text)
    )


def _ends_paragraph(text: str) -> bool:
    tail = text.rstrip(_CLOSERS)
    return bool(tail) and (tail[-1] in _SENTENCE_END or text[-1] in "）)" and len(tail) < len(text))


def _blocks(lines: list[_Line | None], toc: list[str]) -> list[_Block]:
    """Group lines into headings and paragraphs, joining lines wrapped mid-sentence."""
    has_markdown = any(line is not None and line.markdown_heading for line in lines)
    blocks: list[_Block] = []
    previous: _Line | None = None
    open_paragraph = False  # the last block is a paragraph that may continue on the next line
    for n, line in enumerate(lines):
        if line is None:
            continue
        if line.byline and _take_byline(blocks, line, lines[n + 1 :]):
            continue
        if previous is not None and previous.closed is not None:
            previous_closed = previous.closed
        else:
            previous_closed = not blocks or blocks[-1].is_heading or _ends_paragraph(blocks[-1].text)
        if toc:
            is_heading = _matches_toc(line.text, toc) and len(line.text) <= 60
        elif has_markdown:
            is_heading = line.markdown_heading and not ENUMERATION_RE.match(line.text)
        else:
            is_heading = previous_closed and line.closed is not False and _heading_shaped(line.text)
        if is_heading:
            blocks.append(_Block(_toc_spelling(line.text, toc), True))
            open_paragraph = False
        elif open_paragraph and _continues(blocks[-1].text, line.text, previous):
            blocks[-1].text = _join(blocks[-1].text, line.text)
        else:
            blocks.append(_Block(line.text, False, line.markdown_heading))
            open_paragraph = not line.markdown_heading
        previous = line
    return blocks


def _take_byline(blocks: list[_Block], line: _Line, rest: list[_Line | None]) -> bool:
    """Is this byline furniture? Under a title and followed by body text it is the title's author;
    a post-ending byline ("冯文胜 辽宁省科技厅党组书记") is dropped wherever multi-column layouts put it."""
    under_heading = bool(blocks) and blocks[-1].is_heading and blocks[-1].author is None
    following = next((other for other in rest if other is not None), None)
    if under_heading and following is not None and not following.byline:
        blocks[-1].author = re.sub(r"\s+", " ", line.text)
        return True
    return under_heading or bool(_BYLINE_RE.match(line.text))


def _continues(paragraph: str, line: str, previous: _Line | None) -> bool:
    """Is `line` the rest of a sentence wrapped from the paragraph so far?"""
    if _ends_paragraph(paragraph) or ENUMERATION_RE.match(line) or _is_subheading(paragraph):
        return previous is not None and previous.closed is False
    if previous is not None and previous.closed is not None and not previous.closed:
        return True
    # With or without end-of-paragraph marks, a line cut mid-sentence continues: the marks are not
    # always right (a stray trailing space on a wrapped line), a sentence without its end is.
    # long lines and lines that are visibly mid-sentence continue; a short bare line is a sub-heading
    return len(paragraph) >= 20 or paragraph[-1] in "，、,；;：:（(“" or bool(_INNER_STOPS.search(paragraph))


def _is_subheading(paragraph: str) -> bool:
    """'二、深化全面创新改革，推进…' on a line of its own: a section heading inside an article."""
    return bool(ENUMERATION_RE.match(paragraph)) and len(paragraph) <= 40 and not re.search("[。！？!?]", paragraph)


def _join(previous: str, line: str) -> str:
    if previous[-1].isdigit() and line[0].isdigit():  # a number wrapped onto the next line ('202' + '3年')
        return previous + line
    if previous[-1].isascii() and previous[-1].isalnum() and line[0].isascii() and line[0].isalnum():
        return f"{previous} {line}"
    return previous + line


def _clean_paragraph(text: str) -> str:
    """Collapse extraction spacing: no spaces next to Chinese characters or full-width punctuation."""
    text = re.sub(r"\s+", " ", text).strip()
    text = re.sub(rf"(?<=[{_CJK}])\s+", "", text)
    text = re.sub(rf"\s+(?=[{_CJK}])", "", text)
    return _SPLIT_NUMBER_RE.sub(_join_split_number, text)


def _join_split_number(match: re.Match) -> str:
    """'1 526' → '1526'; two runs of four digits or more stay apart (see _SPLIT_NUMBER_RE)."""
    whole = len(match.group(1)) >= 4 and len(match.group(3)) >= 4
    return match.group(0) if whole else match.group(1) + match.group(2)


_TITLE_SPACE_RE = re.compile(r"(?<=[\u4e00-\u9fff])\s+(?=[\u4e00-\u9fff])")
_OPEN_ENDED = "的之与和及对在把被为了"  # a phrase cannot end on these: the space after one is a stray
_QUOTES = re.compile(r"[“”\"]")


def clean_title(title: str) -> str:
    """Drop stray spaces between Chinese characters ('三位一体的 创新' → '三位一体的创新'), keeping
    the space headlines put between a title and its subtitle ('深化改革 创新引擎动能强劲'):
    one that separates two phrases of at least three characters, the first not open-ended. A quoted
    term is part of its phrase ('实施“科技副总”计划 引导人才…'); a space inside quotes is a stray."""
    title = re.sub(r"\s+", " ", title).strip()

    def keep_or_drop(match: re.Match) -> str:
        head, tail = title[: match.start()], title[match.end() :]
        if head.count("“") > head.count("”") or head.count('"') % 2:
            return ""
        before = _QUOTES.sub("", re.split(r"[\s：:，,、]", head)[-1])
        after = _QUOTES.sub("", re.split(r"[\s：:，,、]", tail)[0])
        phrase_break = len(before) >= 3 and len(after) >= 3 and before[-1] not in _OPEN_ENDED
        return " " if phrase_break else ""

    return _TITLE_SPACE_RE.sub(keep_or_drop, title)


# --- articles --------------------------------------------------------------------------------


def _articles_from_blocks(blocks: list[_Block], min_chars: int) -> list[tuple[str, str, str | None]]:
    """Pair headings with the paragraphs after them; split runs of stacked headings.

    A guessed heading (no TOC, no markdown) over less than `min_chars` of text that stops
    mid-sentence is a banner above a stray fragment of the article before."""
    sections: list[tuple[str, list[str]]] = []
    authors: dict[str, str] = {}
    i = 0
    while i < len(blocks):
        if not blocks[i].is_heading:
            i += 1  # preamble before the first heading: masthead leftovers
            continue
        headings = []
        while i < len(blocks) and blocks[i].is_heading:
            headings.append(blocks[i].text)
            if blocks[i].author:
                authors.setdefault(blocks[i].text, blocks[i].author)
            i += 1
        paragraphs = []
        while i < len(blocks) and not blocks[i].is_heading:
            block = blocks[i]
            paragraphs.append(block.text if block.keeps_spacing else _clean_paragraph(block.text))
            i += 1
        for title, body in split_stacked_headings(headings, paragraphs):
            fragment = sum(map(len, body)) < min_chars and not (body and _ends_paragraph(body[-1]))
            if not fragment or not sections:
                sections.append((title, body))
            else:  # a banner line and a stray fragment: the fragment belongs to the article before
                sections[-1][1].extend(body)
    return [(title, "\n".join(p for p in body if p), authors.get(title)) for title, body in sections if body]


def _drop_duplicates(sections: list[tuple[str, str, str | None]]) -> list[tuple[str, str, str | None]]:
    """An article printed twice in one issue is kept once (the longer copy, in the first place)."""
    kept: list[tuple[str, str, str | None]] = []
    for title, body, author in sections:
        for n, (other_title, other_body, other_author) in enumerate(kept):
            if _norm(title) == _norm(other_title):
                if len(body) > len(other_body):
                    kept[n] = (other_title, body, other_author or author)
                break
        else:
            kept.append((title, body, author))
    return kept
