"""Bulletin file (.txt/.md, .pdf, .docx) → plain text with "\\n" newlines, ready for `qa.corpus`.

Page numbers, footers and wrapped lines are left in place: removing them is the parser's job.
"""

from __future__ import annotations

import codecs
import io
import re
import unicodedata
from pathlib import Path

import docx
from docx.table import Table
from pypdf import PdfReader
from pypdf.errors import FileNotDecryptedError

from qa.errors import BadBulletin

SUPPORTED_SUFFIXES = (".txt", ".md", ".pdf", ".docx")
MAX_FILE_BYTES = 50 * 1024 * 1024
"""Bulletins are a few MB at most; anything bigger is a mistake, not worth holding in memory."""

# Bytes below 0x20 other than tab, newline, vertical tab, form feed and carriage return.
_CONTROL_BYTES = bytes(set(range(32)) - {9, 10, 11, 12, 13})
_MAX_CONTROL_SHARE = 0.05
# Kangxi radicals (U+2F00–U+2FDF): some Word→PDF converters map ideographs to these look-alikes
# ("⽣" for "生"), which would never match a question typed with the ordinary character.
_KANGXI_RADICALS = re.compile("[\u2f00-\u2fdf]")


def read_bulletin_text(path: Path) -> str:
    """Return the text of a bulletin file; raise `BadBulletin` naming the file if it cannot be read."""
    path = Path(path)
    suffix = path.suffix.lower()
    if suffix not in SUPPORTED_SUFFIXES:
        raise BadBulletin(
            f"{path.name}：不支持的文件类型 {suffix or '（无后缀）'}；"
            f"只接受 {'、'.join(SUPPORTED_SUFFIXES)}"
        )
    try:
        size = path.stat().st_size
        if size > MAX_FILE_BYTES:
            raise BadBulletin(f"{path.name} 有 {size / 2**20:.1f} MB，超过上限 {MAX_FILE_BYTES / 2**20:g} MB")
        data = path.read_bytes()
    except OSError as exc:
        raise BadBulletin(f"{path.name} 无法读取：{exc.strerror or exc}") from exc
    if not data.strip():
        raise BadBulletin(f"{path.name} 是空文件")

    if suffix == ".pdf":
        text = _pdf_text(path.name, data)
    elif suffix == ".docx":
        text = _docx_text(path.name, data)
    else:
        text = _decode_text(path.name, data)
    text = text.replace("\r\n", "\n").replace("\r", "\n")
    if not text.strip():
        raise BadBulletin(f"{path.name} 是空文件")
    return text


def _decode_text(name: str, data: bytes) -> str:
    # Windows Notepad's "Unicode" is UTF-16 with a BOM; it is full of NULs, so check before the binary test.
    if data.startswith((codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE)):
        try:
            return data.decode("utf-16")
        except UnicodeDecodeError:
            raise BadBulletin(f"{name}：无法识别文本编码（应为 UTF-8 或 GB18030）") from None
    sample = data[:65536]
    control_share = sum(sample.count(byte) for byte in _CONTROL_BYTES) / len(sample)
    if b"\x00" in data or control_share > _MAX_CONTROL_SHARE:
        raise BadBulletin(f"{name} 像是二进制文件，不是文本")
    for encoding in ("utf-8-sig", "gb18030"):  # gb18030 is a superset of GBK/GB2312
        try:
            return data.decode(encoding)
        except UnicodeDecodeError:
            continue
    raise BadBulletin(f"{name}：无法识别文本编码（应为 UTF-8 或 GB18030）")


def _pdf_text(name: str, data: bytes) -> str:
    # pypdf, not pdfplumber: it round-trips CJK text drawn with reportlab's STSong-Light CID font
    # exactly — no spaces between characters, "12.34亿元" and full-width punctuation intact
    # (checked with pypdf 7.1; tests/test_ingest.py guards it) — and it is pure Python.
    try:
        reader = PdfReader(io.BytesIO(data))
        # Owner-password-only PDFs (printing/copying restricted) open with an empty password.
        if reader.is_encrypted and not reader.decrypt(""):
            raise FileNotDecryptedError("wrong password")
        pages = [page.extract_text() or "" for page in reader.pages]
    except FileNotDecryptedError:
        raise BadBulletin(f"{name} 有密码保护：请另存一份无密码的文件再加入") from None
    except Exception as exc:  # malformed PDFs surface as PdfReadError, ValueError, KeyError, ...
        raise BadBulletin(f"{name} 不是可读的 PDF（{exc}）") from exc
    # Per-line strip: pypdf turns x offsets into leading spaces (a centred page number comes out " 7").
    page_texts = [
        "\n".join(line.strip() for line in text.strip().splitlines()) for text in pages if text.strip()
    ]
    if not page_texts:
        raise BadBulletin(f"{name} 没有文字层（可能是扫描图片），暂不支持文字识别（OCR）")
    text = "\n\n".join(page_texts)
    return _KANGXI_RADICALS.sub(lambda match: unicodedata.normalize("NFKC", match.group()), text)


def _docx_text(name: str, data: bytes) -> str:
    """Paragraphs and table cells in document order, one block per line, blank line between blocks.

    Headings get "## " (the Title style "# "), as in the Markdown seeds, so the parser can spot titles.
    """
    try:
        document = docx.Document(io.BytesIO(data))
        blocks: list[str] = []
        for item in document.iter_inner_content():
            if isinstance(item, Table):
                blocks.extend(_table_cell_texts(item))
            elif item.text.strip():
                # strip() also drops the full-width spaces ("　　") typed as first-line indents.
                blocks.append(_heading_prefix(item.style.name if item.style else "") + item.text.strip())
    except Exception as exc:  # python-docx reports broken packages as BadZipFile, KeyError, XMLSyntaxError, ...
        raise BadBulletin(f"{name} 不是可读的 Word .docx 文件（{exc}）") from exc
    return "\n\n".join(block for block in blocks if block.strip())


def _heading_prefix(style_name: str | None) -> str:
    style_name = (style_name or "").lower()
    if style_name == "title":
        return "# "
    # WPS may save the Chinese names ("标题 1") where Word writes "heading 1".
    return "## " if re.match(r"(heading|标题)\s*\d", style_name) else ""


def _table_cell_texts(table: Table) -> list[str]:
    texts: list[str] = []
    seen_cells = set()  # holding the elements keeps lxml handing back the same proxy objects
    for row in table.rows:
        for cell in row.cells:
            if cell._tc not in seen_cells:  # a merged cell appears once per grid column it spans
                seen_cells.add(cell._tc)
                texts.append(cell.text)
    return texts
