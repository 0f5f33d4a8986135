"""Builders for test bulletins: a small invented sample, and PDF/DOCX files made from it in tmp_path.

Binary fixtures are generated per test, never committed. The sample is fiction (云山市, 青石县).
"""

from __future__ import annotations

from pathlib import Path

import docx
from reportlab.lib.pagesizes import A4
from reportlab.pdfbase import pdfmetrics
from reportlab.pdfbase.cidfonts import UnicodeCIDFont
from reportlab.pdfgen import canvas

PAGE_FOOTER = "《科技情报参考》 选析情报精华 助力科技决策"
CJK_FONT = "STSong-Light"  # built into reportlab and every PDF reader; nothing is embedded


def register_cjk_font() -> str:
    """Make `CJK_FONT` usable on a reportlab canvas (idempotent); returns its name."""
    pdfmetrics.registerFont(UnicodeCIDFont(CJK_FONT))
    return CJK_FONT

SAMPLE_ARTICLE_TITLES = (
    "云山市加快氢能产业集群建设",
    "青石县以“揭榜挂帅”破解农机装备技术难题",
)

SAMPLE_BULLETIN_LINES = [
    "科技情报参考",
    "2024年第3期",
    "呼和浩特市科学技术局综合保障中心 编辑",
    f"★ {SAMPLE_ARTICLE_TITLES[0]} ........ 2",
    f"★ {SAMPLE_ARTICLE_TITLES[1]} ........ 3",
    SAMPLE_ARTICLE_TITLES[0],
    "今年以来，云山市围绕“制储输用”全链条布局氢能产业，全年安排市级科技专项资金12.34亿元，"
    "支持企业开展关键技术攻关，推动氢能产业集群加快成形。",
    "一是强化平台支撑。依托云山高新区建成氢燃料电池中试基地1个、市级氢能工程技术研究中心7家，"
    "累计引进研发团队23个，其中院士领衔团队2个。",
    "二是推动示范应用。在公交、物流、港口等场景投放氢燃料电池汽车480辆，建成加氢站9座，"
    "日加氢能力达到13.5吨，较上年增长41.2%。",
    "三是优化产业生态。设立规模为30亿元的氢能产业基金，出台《云山市氢能产业发展扶持办法（试行）》，"
    "对首台（套）装备按售价的15%给予最高500万元奖励。",
    SAMPLE_ARTICLE_TITLES[1],
    "青石县地处丘陵山区，小型农机装备长期依赖外地供应。2023年，县科技局首次采用“揭榜挂帅”方式"
    "发布技术需求榜单，面向全国征集解决方案。",
    "榜单共发布丘陵茶园采摘机、山地轨道运输车等技术难题6项，吸引省内外高校院所和企业揭榜团队17个，"
    "最终确定揭榜单位5家，签订技术合同金额合计2876万元。",
    "县财政对揭榜项目按合同金额的30%给予后补助，单个项目最高补助200万元。截至目前，已有3项成果"
    "完成样机试制并在全县8个乡镇推广应用，亩均作业成本下降26.8%。",
    "编辑：李 涛",
    "电话：4366683",
]

_FONT_SIZE = 12
_LEADING = 20
_MARGIN = 56


def make_pdf(path: Path, lines: list[str], *, lines_per_page: int | None = None) -> list[list[str]]:
    """Write `lines` as an A4 PDF in STSong-Light, wrapping long lines at the right margin.

    Every page ends with the bulletin footer and its page number, as the printed issues do.
    `lines_per_page` forces earlier page breaks (to test text split across pages).
    Returns the text lines drawn on each page, in order — what a faithful extractor gives back.
    """
    register_cjk_font()
    page_width, page_height = A4
    text_width = page_width - 2 * _MARGIN
    body_top, body_bottom = page_height - _MARGIN, _MARGIN + 2 * _LEADING
    capacity = min(lines_per_page or 10**6, int((body_top - body_bottom) // _LEADING) + 1)

    wrapped = [part for line in lines for part in _wrap(line, text_width)]
    pages = [wrapped[start : start + capacity] for start in range(0, len(wrapped), capacity)] or [[]]
    pdf = canvas.Canvas(str(path), pagesize=A4)
    drawn: list[list[str]] = []
    for number, page_lines in enumerate(pages, start=1):
        pdf.setFont(CJK_FONT, _FONT_SIZE)
        for row, line in enumerate(page_lines):
            pdf.drawString(_MARGIN, body_top - row * _LEADING, line)
        pdf.setFont(CJK_FONT, 9)
        pdf.drawCentredString(page_width / 2, _MARGIN, PAGE_FOOTER)
        pdf.drawCentredString(page_width / 2, _MARGIN - 14, str(number))
        pdf.showPage()
        drawn.append([line for line in page_lines if line] + [PAGE_FOOTER, str(number)])
    pdf.save()
    return drawn


def _wrap(line: str, width: float) -> list[str]:
    """Break at whatever character reaches the margin, mid-word or mid-number, like typeset CJK text."""
    parts, current = [], ""
    for char in line:
        if current and pdfmetrics.stringWidth(current + char, CJK_FONT, _FONT_SIZE) > width:
            parts.append(current)
            current = ""
        current += char
    return parts + [current]


def make_image_only_pdf(path: Path) -> None:
    """A PDF with drawings but no text layer, like a scanned bulletin."""
    pdf = canvas.Canvas(str(path), pagesize=A4)
    pdf.rect(100, 400, 300, 200, fill=1)
    pdf.showPage()
    pdf.save()


def make_docx(
    path: Path,
    title_lines: list[str] | tuple[str, ...],
    paragraphs: list[str],
    *,
    table_rows: list[list[str]] | None = None,
) -> None:
    """Write `paragraphs` in order as a Word document, styling those in `title_lines` as Heading 1.

    `table_rows`, if given, become a table after the paragraphs.
    """
    missing = [title for title in title_lines if title not in paragraphs]
    if missing:
        raise ValueError(f"title lines not among the paragraphs: {missing}")
    document = docx.Document()
    for paragraph in paragraphs:
        if paragraph in title_lines:
            document.add_heading(paragraph, level=1)
        else:
            document.add_paragraph(paragraph)
    if table_rows:
        table = document.add_table(rows=len(table_rows), cols=max(len(row) for row in table_rows))
        for row_cells, row_texts in zip(table.rows, table_rows):
            for cell, text in zip(row_cells.cells, row_texts):
                cell.text = text
    document.save(str(path))


def make_docx_bomb(path: Path, unpacked_bytes: int, paragraph: str = "<w:p><w:r><w:t>x</w:t></w:r></w:p>") -> None:
    """A valid .docx whose word/document.xml is padded with `unpacked_bytes` of one repeated paragraph:
    a few dozen KB on disk that would unpack (and parse, paragraph by paragraph) far beyond that."""
    import io
    import zipfile

    template = io.BytesIO()
    docx.Document().save(template)
    with zipfile.ZipFile(io.BytesIO(template.getvalue())) as source, zipfile.ZipFile(path, "w") as bomb:
        for entry in source.infolist():
            data = source.read(entry.filename)
            if entry.filename == "word/document.xml":
                padding = paragraph * (unpacked_bytes // len(paragraph))
                data = data.decode("utf-8").replace("<w:body>", "<w:body>" + padding, 1).encode("utf-8")
            bomb.writestr(entry.filename, data, compress_type=zipfile.ZIP_DEFLATED, compresslevel=9)
