"""Bulletin file → plain text with "\\n" newlines, ready for the bulletin parser (`qa.corpus`).

Forms read: .txt/.md (`text`), .pdf with a text layer, laid out by font size and position (`pdf`,
`pages`), scanned PDF pages and .png/.jpg page images by offline OCR (`ocr`, `images`), and .docx
(`word`). Every bound on a file's cost is in `limits`.

    read_bulletin(path)       → BulletinText (text, form, pages, OCR confidence per paragraph)
    read_bulletin_text(path)  → str
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from qa.errors import BadBulletin

from . import limits
from .limits import MAX_FILE_BYTES
from .pages import Paragraph, layout_paragraphs, paragraphs_text
from .text import decode_text

__all__ = ["SUPPORTED_SUFFIXES", "IMAGE_SUFFIXES", "MAX_FILE_BYTES", "BulletinText", "ocr_confidence", "read_bulletin",
           "read_bulletin_text", "limits"]

TEXT_SUFFIXES = (".txt", ".md")
IMAGE_SUFFIXES = (".png", ".jpg", ".jpeg")
SUPPORTED_SUFFIXES = (*TEXT_SUFFIXES, ".pdf", ".docx", *IMAGE_SUFFIXES)


@dataclass(frozen=True, slots=True)
class BulletinText:
    text: str
    form: str  # "text", "pdf", "scan" (a PDF with pages read by OCR), "image" or "docx"
    pages: int = 0  # PDF pages or images read; 0 for text and Word files
    ocr_pages: int = 0
    ocr_paragraphs: tuple[Paragraph, ...] = ()  # recognised paragraphs with their OCR confidence


def read_bulletin_text(path: Path) -> str:
    """Return the text of a bulletin file; raise `BadBulletin` naming the file if it cannot be read."""
    return read_bulletin(path).text


def read_bulletin(path: Path, *, progress: bool = False) -> BulletinText:
    """Read any supported bulletin file; `progress` shows a bar while pages are recognised."""
    path = Path(path)
    suffix = path.suffix.lower()
    if suffix not in SUPPORTED_SUFFIXES:
        raise BadBulletin(
            f"{path.name}：不支持的文件类型{f' {suffix}' if suffix else '（无后缀）'}；只接受 {'、'.join(SUPPORTED_SUFFIXES)}"
        )
    try:
        limits.check_file_size(path.name, path.stat().st_size)
        data = path.read_bytes()
    except OSError as exc:
        raise BadBulletin(f"{path.name} 无法读取：{_os_reason(exc)}") from exc
    if not data.strip():
        raise BadBulletin(f"{path.name} 是空文件")
    result = _read(path.name, suffix, data, progress)
    text = result.text.replace("\r\n", "\n").replace("\r", "\n")
    if not text.strip():
        raise BadBulletin(f"{path.name} 是空文件")
    return result if text == result.text else BulletinText(text, result.form, result.pages, result.ocr_pages,
                                                           result.ocr_paragraphs)


def _os_reason(exc: OSError) -> str:
    """The operating system's reason in words a user reads; its own (English) words otherwise."""
    if isinstance(exc, FileNotFoundError):
        return "文件不存在"
    if isinstance(exc, IsADirectoryError):
        return "这是文件夹，不是文件"
    if isinstance(exc, PermissionError):
        return "没有读取权限"
    return exc.strerror or str(exc)


def _read(name: str, suffix: str, data: bytes, progress: bool) -> BulletinText:
    if suffix in TEXT_SUFFIXES:
        return BulletinText(decode_text(name, data), "text")
    if suffix == ".docx":
        from .word import docx_text

        return BulletinText(docx_text(name, data), "docx")
    if suffix == ".pdf":
        from .pdf import pdf_pages

        pages, ocr_pages = pdf_pages(name, data, progress=progress)
        form = "scan" if ocr_pages else "pdf"
    else:
        from .images import image_page

        pages, ocr_pages, form = [image_page(name, data)], 1, "image"
    paragraphs = layout_paragraphs(pages)
    if not paragraphs:
        if ocr_pages:
            raise BadBulletin(f"{name} 没有文字层，文字识别（OCR）在它的 {ocr_pages} 页上也没有找到文字")
        raise BadBulletin(f"{name} 里没有文字")
    recognised = tuple(p for p in paragraphs if p.confidence is not None)
    return BulletinText(paragraphs_text(paragraphs), form, len(pages), ocr_pages, recognised)


def ocr_confidence(article_text: str, paragraphs: tuple[Paragraph, ...]) -> float | None:
    """Mean OCR confidence (by characters) of the recognised paragraphs that make up an article."""
    squashed = "".join(article_text.split())
    weighted = chars = 0.0
    for paragraph in paragraphs:
        key = "".join(paragraph.text.split())
        if paragraph.confidence is not None and key and key in squashed:
            weighted += paragraph.confidence * len(key)
            chars += len(key)
    if not chars:
        known = [p.confidence for p in paragraphs if p.confidence is not None]
        return round(sum(known) / len(known), 3) if known else None
    return round(weighted / chars, 3)
