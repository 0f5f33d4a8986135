"""Render a bulletin, given as structured text, in each form bulletins arrive in: the plain text a
person would copy out, an A4 text PDF (headings larger, lines wrapped at the margin, running header,
footer and page number on every page, optionally two columns), an image-only PDF or page images as a
scanner makes them (Debian's fonts-noto-cjk, slightly tilted and blurred), and a Word file.

Used by the fidelity benchmark (bench.fidelity) and by the tests; all fiction.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Callable

PAGE_FOOTER = "《科技情报参考》 选析情报精华 助力科技决策"
EDITOR_LINE = "呼和浩特市科学技术局综合保障中心 编辑"
NOTO_DIR = Path("/usr/share/fonts/opentype/noto")
NOTO_BODY = NOTO_DIR / "NotoSerifCJK-Regular.ttc"
NOTO_HEADING = NOTO_DIR / "NotoSansCJK-Bold.ttc"
PDF_FONT = "STSong-Light"  # built into reportlab and every PDF reader

PAGE_W, PAGE_H, MARGIN = 595.0, 842.0, 56.0
BODY, LEADING, TITLE, TITLE_LEADING, SMALL = 12.0, 20.0, 16.0, 24.0, 9.0
GUTTER = 24.0


@dataclass(frozen=True, slots=True)
class ArticleSpec:
    title: str
    paragraphs: tuple[str, ...]
    byline: str | None = None


@dataclass(frozen=True, slots=True)
class BulletinSpec:
    label: str  # "2024年第3期"
    articles: tuple[ArticleSpec, ...]
    columns: int = 1
    toc: bool = True


@dataclass(frozen=True, slots=True)
class Placed:
    """One printed line: text at (x, top) in points, in a font role and size."""

    text: str
    x: float
    top: float
    size: float
    role: str  # "body", "title" or "small"


Measure = Callable[[str, float, str], float]  # text, size, role → width in points


def bulletin_text(spec: BulletinSpec) -> str:
    """The bulletin as a person would copy it out by hand: no footers, page numbers or wrapping."""
    blocks = ["科技情报参考", spec.label, EDITOR_LINE]
    if spec.toc:
        blocks += [f"★ {article.title} ........ {n}" for n, article in enumerate(spec.articles, start=2)]
    for article in spec.articles:
        blocks.append(article.title)
        if article.byline:
            blocks.append(article.byline)
        blocks.extend(article.paragraphs)
    return "\n\n".join(blocks) + "\n"


def layout(spec: BulletinSpec, measure: Measure) -> list[list[Placed]]:
    """Place every line on A4 pages; each page also gets its running header, footer and number."""
    pages: list[list[Placed]] = [[]]
    column_width = (PAGE_W - 2 * MARGIN - GUTTER * (spec.columns - 1)) / spec.columns
    state = {"top": MARGIN, "column": 0, "page_top": MARGIN}
    bottom = PAGE_H - MARGIN - 2 * LEADING

    def column_x() -> float:
        return MARGIN + state["column"] * (column_width + GUTTER)

    def advance(height: float) -> None:
        if state["top"] + height > bottom:
            if state["column"] + 1 < spec.columns:
                state["column"] += 1
                state["top"] = state["page_top"]
            else:
                pages.append([])
                state.update(column=0, top=MARGIN, page_top=MARGIN)
        pages[-1].append(None)  # placeholder replaced by the caller

    def place(text: str, size: float, role: str, leading: float, indent: float = 0.0, x: float | None = None) -> None:
        advance(leading)  # may move to the next column or page: only then is the x known
        pages[-1][-1] = Placed(text, column_x() + indent if x is None else x, state["top"], size, role)
        state["top"] += leading

    def centred(text: str, size: float, role: str, leading: float) -> None:
        place(text, size, role, leading, x=(PAGE_W - measure(text, size, role)) / 2)

    centred("科技情报参考", 26.0, "title", 40.0)
    centred(spec.label, 14.0, "body", 24.0)
    centred(EDITOR_LINE, 10.5, "body", 30.0)
    if spec.toc:
        for n, article in enumerate(spec.articles, start=2):
            for part in _wrap(f"★ {article.title} ........ {n}", PAGE_W - 2 * MARGIN, 0, BODY, "body", measure):
                place(part, BODY, "body", LEADING)
        state["top"] += LEADING
    state["page_top"] = state["top"]
    for article in spec.articles:
        state["top"] += LEADING / 2
        # print sets the space in "主题 副题" and "张某某 某某局" a full em wide
        for part in _wrap(article.title.replace(" ", "\u3000"), column_width, 0, TITLE, "title", measure):
            place(part, TITLE, "title", TITLE_LEADING)
        if article.byline:
            place(article.byline.replace(" ", "\u3000"), BODY, "body", LEADING, 2 * BODY)
        for paragraph in article.paragraphs:
            for n, part in enumerate(_wrap(paragraph, column_width, 2 * BODY, BODY, "body", measure)):
                place(part, BODY, "body", LEADING, 2 * BODY if n == 0 else 0.0)
    for number, page in enumerate(pages, start=1):
        page.append(Placed(f"《科技情报参考》{spec.label}", MARGIN, 28.0, SMALL, "small"))
        footer_x = (PAGE_W - measure(PAGE_FOOTER, SMALL, "small")) / 2
        page.append(Placed(PAGE_FOOTER, footer_x, PAGE_H - MARGIN + 4, SMALL, "small"))
        page.append(Placed(str(number), PAGE_W / 2 - 3, PAGE_H - MARGIN + 18, SMALL, "small"))
    return pages


def _wrap(text: str, width: float, indent: float, size: float, role: str, measure: Measure) -> list[str]:
    """Break wherever the margin falls, mid-word or mid-number, as typeset Chinese does."""
    parts, current, limit = [], "", width - indent
    for char in text:
        if current and measure(current + char, size, role) > limit:
            parts.append(current)
            current, limit = "", width
        current += char
    return parts + [current]


# --- writers -------------------------------------------------------------------------------


def write_text_pdf(spec: BulletinSpec, path: Path) -> int:
    """An A4 PDF with a text layer (reportlab, STSong-Light); returns the page count."""
    from reportlab.pdfbase import pdfmetrics
    from reportlab.pdfbase.cidfonts import UnicodeCIDFont
    from reportlab.pdfgen import canvas

    pdfmetrics.registerFont(UnicodeCIDFont(PDF_FONT))
    pages = layout(spec, lambda text, size, role: pdfmetrics.stringWidth(text, PDF_FONT, size))
    pdf = canvas.Canvas(str(path), pagesize=(PAGE_W, PAGE_H))
    for page in pages:
        for item in page:
            pdf.setFont(PDF_FONT, item.size)
            pdf.drawString(item.x, PAGE_H - item.top - item.size, item.text)
        pdf.showPage()
    pdf.save()
    return len(pages)


def scan_images(spec: BulletinSpec, dpi: int = 150, tilt: float = 0.4, blur: float = 0.6):
    """The pages as a scanner gives them: greyscale, `tilt` degrees off, slightly blurred."""
    from PIL import Image, ImageDraw, ImageFilter, ImageFont

    scale = dpi / 72
    fonts: dict[tuple[str, float], ImageFont.FreeTypeFont] = {}

    def font(role: str, size: float) -> ImageFont.FreeTypeFont:
        key = (role, size)
        if key not in fonts:
            fonts[key] = ImageFont.truetype(str(NOTO_HEADING if role == "title" else NOTO_BODY), round(size * scale))
        return fonts[key]

    pages = layout(spec, lambda text, size, role: font(role, size).getlength(text) / scale)
    images = []
    for n, page in enumerate(pages):
        image = Image.new("L", (round(PAGE_W * scale), round(PAGE_H * scale)), 255)
        draw = ImageDraw.Draw(image)
        for item in page:
            draw.text((item.x * scale, item.top * scale), item.text, font=font(item.role, item.size), fill=20)
        angle = tilt if n % 2 == 0 else -tilt  # pages go through the feeder a little crooked, each its own way
        image = image.rotate(angle, resample=Image.BICUBIC, fillcolor=255).filter(ImageFilter.GaussianBlur(blur))
        images.append(image)
    return images


def write_scan_pdf(spec: BulletinSpec, path: Path, dpi: int = 150, **scan) -> int:
    """An image-only PDF (no text layer), one scanned image per page; returns the page count."""
    images = scan_images(spec, dpi, **scan)
    images[0].save(path, "PDF", save_all=True, append_images=images[1:], resolution=dpi)
    return len(images)


def write_page_images(spec: BulletinSpec, folder: Path, dpi: int = 150, suffix: str = ".png", **scan) -> list[Path]:
    paths = []
    for n, image in enumerate(scan_images(spec, dpi, **scan), start=1):
        paths.append(folder / f"page-{n}{suffix}")
        image.save(paths[-1])
    return paths


def write_docx(spec: BulletinSpec, path: Path) -> None:
    """A Word file: the masthead as Title, article titles in Heading 1, bylines centred, body indented."""
    import docx
    from docx.enum.text import WD_ALIGN_PARAGRAPH
    from docx.shared import Pt

    document = docx.Document()
    document.add_heading("科技情报参考", level=0)
    for line in (spec.label, EDITOR_LINE):
        document.add_paragraph(line).alignment = WD_ALIGN_PARAGRAPH.CENTER
    if spec.toc:
        for n, article in enumerate(spec.articles, start=2):
            document.add_paragraph(f"★ {article.title} ........ {n}")
    for article in spec.articles:
        document.add_heading(article.title, level=1)
        if article.byline:
            document.add_paragraph(article.byline).alignment = WD_ALIGN_PARAGRAPH.CENTER
        for paragraph in article.paragraphs:
            document.add_paragraph(paragraph).paragraph_format.first_line_indent = Pt(2 * BODY)
    document.save(str(path))
