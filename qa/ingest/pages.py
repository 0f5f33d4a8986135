"""Page layout → bulletin text, shared by text PDFs (characters with font sizes) and OCR (recognised
lines with boxes): drop running headers, footers and page numbers; read columns in order; tell
headings from body by size; join headings and sentences wrapped over lines, columns and pages.

Output: one paragraph per line, a blank line between, each ended by a space (the bulletin parser's
paragraph mark); headings start with "## ".
"""

from __future__ import annotations

import re
import statistics
from dataclasses import dataclass
from difflib import SequenceMatcher

HEADING_RATIO = 1.15  # a line this much larger than the body text is a heading
BOLD_HEADING_RATIO = 1.05
EDGE_ZONE = 0.10  # running headers and footers sit in the top and bottom tenth of a page
_PAGE_NUMBER_RE = re.compile(r"^(?:第\s*)?[-—–]?\s*\d{1,3}\s*[-—–]?\s*(?:页)?$|^\d{1,3}\s*/\s*\d{1,3}$")
_NEW_ITEM_RE = re.compile(r"^[★☆●◆■]")


@dataclass(frozen=True, slots=True)
class TextLine:
    """A run of text on one line of a page; y grows downwards; `size` is the font size (PDF) or the
    line's height (OCR), in the page's own units."""

    text: str
    x0: float
    x1: float
    top: float
    bottom: float
    size: float
    bold: bool = False
    confidence: float | None = None


@dataclass(frozen=True, slots=True)
class PageLines:
    number: int
    width: float
    height: float
    lines: tuple[TextLine, ...]


@dataclass(frozen=True, slots=True)
class Paragraph:
    text: str
    heading: bool
    confidence: float | None = None  # mean OCR confidence of its characters


@dataclass(frozen=True, slots=True)
class _Column:
    """Lines read top to bottom between `left` and `right` (the column's text edges)."""

    lines: tuple[TextLine, ...]
    left: float
    right: float
    page: int


def layout_paragraphs(pages: list[PageLines]) -> list[Paragraph]:
    pages = drop_running_furniture(pages)
    all_lines = [line for page in pages for line in page.lines]
    if not all_lines:
        return []
    body_size = _body_size(all_lines)
    width = _typical_text_width(pages, body_size)
    columns = [column for page in pages for column in _columns(page, body_size, width)]
    return _paragraphs(columns, body_size)


def paragraphs_text(paragraphs: list[Paragraph]) -> str:
    return "\n\n".join(("## " if p.heading else "") + p.text + " " for p in paragraphs)


# --- running headers, footers, page numbers ---------------------------------------------------


def _edge_key(text: str) -> str:
    return re.sub(r"\d+", "#", re.sub(r"\s+", "", text))


def _in_edge_zone(line: TextLine, page: PageLines) -> bool:
    return line.bottom <= page.height * EDGE_ZONE or line.top >= page.height * (1 - EDGE_ZONE)


def drop_running_furniture(pages: list[PageLines]) -> list[PageLines]:
    """Drop page numbers, and lines near the top or bottom edge that recur on most pages."""
    edge_keys = [[_edge_key(line.text) for line in page.lines if _in_edge_zone(line, page)] for page in pages]
    needed = max(2, (len(pages) + 1) // 2)

    def recurs(key: str) -> bool:
        if len(pages) < 2 or len(key) < 2:
            return False
        similar = sum(any(SequenceMatcher(None, key, other).ratio() >= 0.85 for other in keys) for keys in edge_keys)
        return similar >= needed

    kept_pages = []
    for page in pages:
        kept = tuple(
            line for line in page.lines
            if not (_in_edge_zone(line, page) and (_PAGE_NUMBER_RE.match(line.text.strip()) or recurs(_edge_key(line.text))))
        )
        kept_pages.append(PageLines(page.number, page.width, page.height, kept))
    return kept_pages


# --- sizes and columns ---------------------------------------------------------------------


def _body_size(lines: list[TextLine]) -> float:
    """The size most of the text is set in (median weighted by characters)."""
    sizes = sorted((line.size, len(line.text)) for line in lines)
    half, seen = sum(n for _, n in sizes) / 2, 0
    for size, n in sizes:
        seen += n
        if seen >= half:
            return size
    return sizes[-1][0]


def _typical_text_width(pages: list[PageLines], body_size: float) -> float | None:
    """Width of a full body line, from the pages with enough lines to show it (scans shift per page)."""
    widths = []
    for page in pages:
        body = [line for line in page.lines if abs(line.size - body_size) <= 0.15 * body_size]
        if len(body) >= 5:
            widths.append(max(line.x1 for line in body) - min(line.x0 for line in body))
    return statistics.median(widths) if widths else None


def _columns(page: PageLines, body_size: float, width: float | None) -> list[_Column]:
    """The page's text as columns in reading order: full-width lines split the page into bands,
    and each band is read left column first."""
    lines = sorted(page.lines, key=lambda line: (line.top, line.x0))
    if not lines:
        return []
    left, right = _text_edges(lines, body_size)
    if width is not None:
        right = max(right, left + width) if len(lines) < 5 else right
    gutter = _gutter(lines, left, right)
    if gutter is None:
        return [_Column(tuple(_merge_same_line(lines)), left, right, page.number)]
    spanning = [line for line in lines if line.x0 < gutter < line.x1]
    columns: list[_Column] = []
    band_top = float("-inf")
    for boundary in [*spanning, None]:
        band_bottom = boundary.top if boundary is not None else float("inf")
        band = [line for line in lines if line not in spanning and band_top <= line.top < band_bottom]
        for side in ([line for line in band if line.x1 <= gutter], [line for line in band if line.x0 >= gutter]):
            if side:
                side_left, side_right = _text_edges(side, body_size)
                columns.append(_Column(tuple(_merge_same_line(side)), side_left, side_right, page.number))
        if boundary is not None:
            columns.append(_Column((boundary,), left, right, page.number))
            band_top = boundary.top
    return columns


def _text_edges(lines: list[TextLine], body_size: float) -> tuple[float, float]:
    """Left and right edges of the body text (a heading may overhang the column)."""
    body = [line for line in lines if abs(line.size - body_size) <= 0.15 * body_size]
    if len(body) < 3:
        body = lines
    return min(line.x0 for line in body), max(line.x1 for line in body)


def _gutter(lines: list[TextLine], left: float, right: float) -> float | None:
    """An x in the middle of the page that few lines cross, with text on both sides: a column gap."""
    span = right - left
    if span <= 0 or len(lines) < 8:
        return None
    best_x, best_cover = None, len(lines)
    for step in range(31):
        x = left + span * (0.3 + 0.4 * step / 30)
        cover = sum(1 for line in lines if line.x0 < x < line.x1)
        if cover < best_cover:
            best_x, best_cover = x, cover
    if best_x is None or best_cover > 0.15 * len(lines):
        return None
    on_left = sum(1 for line in lines if line.x1 <= best_x)
    on_right = sum(1 for line in lines if line.x0 >= best_x)
    return best_x if on_left >= 3 and on_right >= 3 else None


def _merge_same_line(lines: list[TextLine]) -> list[TextLine]:
    """Pieces of one printed line (split at wide gaps) become one line; a wide gap becomes a space."""
    merged: list[TextLine] = []
    for line in sorted(lines, key=lambda item: (item.top, item.x0)):
        previous = merged[-1] if merged else None
        if previous is not None and _same_row(previous, line) and line.x0 >= previous.x1 - 0.5 * line.size:
            gap = " " if line.x0 - previous.x1 >= 0.6 * min(line.size, previous.size) else ""
            merged[-1] = _combined(previous, line, gap)
        else:
            merged.append(line)
    return merged


def _same_row(a: TextLine, b: TextLine) -> bool:
    overlap = min(a.bottom, b.bottom) - max(a.top, b.top)
    return overlap >= 0.5 * min(a.bottom - a.top, b.bottom - b.top)


def _combined(a: TextLine, b: TextLine, gap: str) -> TextLine:
    chars_a, chars_b = len(a.text), len(b.text)
    confidence = None
    if a.confidence is not None and b.confidence is not None:
        confidence = (a.confidence * chars_a + b.confidence * chars_b) / max(1, chars_a + chars_b)
    return TextLine(a.text + gap + b.text, a.x0, b.x1, min(a.top, b.top), max(a.bottom, b.bottom),
                    max(a.size, b.size), a.bold and b.bold, confidence)


# --- paragraphs ----------------------------------------------------------------------------


@dataclass(slots=True)
class _Open:
    """The paragraph being assembled and where its last line sits."""

    parts: list[str]
    heading: bool
    last: TextLine
    column: _Column
    weighted_confidence: float = 0.0
    chars: int = 0


def _is_heading(line: TextLine, body_size: float) -> bool:
    return line.size >= HEADING_RATIO * body_size or (line.bold and line.size >= BOLD_HEADING_RATIO * body_size)


def _paragraphs(columns: list[_Column], body_size: float) -> list[Paragraph]:
    paragraphs: list[Paragraph] = []
    current: _Open | None = None
    for column in columns:
        for line in column.lines:
            heading = _is_heading(line, body_size)
            if current is not None and current.heading == heading and _continues(current, line, column):
                current.parts.append(line.text)
                current.last, current.column = line, column
            else:
                if current is not None:
                    paragraphs.append(_closed(current))
                current = _Open([line.text], heading, line, column)
            if line.confidence is not None:
                current.weighted_confidence += line.confidence * len(line.text)
                current.chars += len(line.text)
    if current is not None:
        paragraphs.append(_closed(current))
    return [p for p in paragraphs if p.text]


def _continues(current: _Open, line: TextLine, column: _Column) -> bool:
    previous, size = current.last, max(line.size, current.last.size)
    same_column = column is current.column
    if same_column and line.top - previous.bottom > 1.5 * size:
        return False  # a blank line's worth of space: a new block
    if current.heading:
        tolerance = 0.12 if line.confidence is not None else 0.05  # OCR sizes are estimates
        same_size = abs(line.size - previous.size) <= tolerance * size
        wide = previous.x1 - previous.x0 >= 0.55 * (current.column.right - current.column.left)
        return same_column and same_size and wide and line.top - previous.bottom <= 0.9 * size
    if _NEW_ITEM_RE.match(line.text):
        return False
    previous_full = previous.x1 >= current.column.right - 1.5 * previous.size
    indented = line.x0 >= column.left + 1.0 * line.size
    return previous_full and not indented


def _closed(current: _Open) -> Paragraph:
    text = current.parts[0]
    for part in current.parts[1:]:
        text = _join(text, part)
    confidence = current.weighted_confidence / current.chars if current.chars else None
    return Paragraph(re.sub(r"\s+", " ", text).strip(), current.heading, confidence)


def _join(previous: str, line: str) -> str:
    # Latin words wrap at spaces; CJK text and numbers wrap anywhere ("12" + "34亿元").
    if previous and line and previous[-1].isascii() and previous[-1].isalpha() and line[0].isascii() and line[0].isalpha():
        return f"{previous} {line}"
    return previous + line
