"""Word bulletins (.docx) → text: paragraphs in document order, headings marked from their styles,
tables row by row. The zip is checked against the limits before python-docx inflates any part."""

from __future__ import annotations

import io
import re

import docx
from docx.table import Table

from qa.errors import BadBulletin

from .limits import check_docx_archive

_SHORT_HEADER_CHARS = 12


def docx_text(name: str, data: bytes) -> str:
    """One paragraph per line, a blank line between, each ended by a space (the parser's paragraph mark).

    Headings get "## " (the Title style "# "), as in the Markdown seeds, so the parser can spot titles.
    """
    check_docx_archive(name, data)
    try:
        document = docx.Document(io.BytesIO(data))
        blocks: list[str] = []
        # Paragraph.style scans every style of the document each time (~3 ms): look each id up once.
        style_names: dict[str | None, str] = {}
        for item in document.iter_inner_content():
            if isinstance(item, Table):
                blocks.extend(table_rows_text(item))
            elif item.text.strip():
                style_id = item._p.style
                if style_id not in style_names:
                    style_names[style_id] = item.style.name if item.style else ""
                # strip() also drops the full-width spaces ("　　") typed as first-line indents.
                blocks.append(_heading_prefix(style_names[style_id]) + item.text.strip())
    except Exception as exc:  # python-docx reports broken packages as BadZipFile, KeyError, XMLSyntaxError, ...
        raise BadBulletin(f"{name} 不是可读的 Word .docx 文件（{exc}）") from exc
    return "\n\n".join(block + " " for block in blocks if block.strip())


def _heading_prefix(style_name: str | None) -> str:
    style_name = (style_name or "").lower()
    if style_name == "title":
        return "# "
    # WPS may save the Chinese names ("标题 1") where Word writes "heading 1".
    return "## " if re.match(r"(heading|标题)\s*\d", style_name) else ""


def table_rows_text(table: Table) -> list[str]:
    """Each row as one line. With a header row of short labels, cells read "label：value；…"."""
    rows = [_row_cells(row) for row in table.rows]
    rows = [row for row in rows if any(rows_cell.strip() for rows_cell in row)]
    if not rows:
        return []
    header = rows[0]
    keyed = len(rows) >= 2 and len(header) >= 2 and all(0 < len(h) <= _SHORT_HEADER_CHARS for h in header)
    if not keyed:
        return ["；".join(cell for cell in row if cell) for row in rows]
    lines = []
    for row in rows[1:]:
        pairs = [f"{label}：{cell}" if label else cell for label, cell in zip(header, row) if cell]
        lines.append("；".join(pairs))
    return lines


def _row_cells(row) -> list[str]:
    cells, seen = [], set()  # a merged cell appears once per grid column it spans
    for cell in row.cells:
        if cell._tc not in seen:
            seen.add(cell._tc)
            cells.append(re.sub(r"\s+", " ", cell.text).strip())
    return cells
