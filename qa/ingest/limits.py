"""Every bound on what one bulletin file may cost to read, in one place.

The CLI (`qa add`) and the upload jobs both read files through `qa.ingest`, so these limits hold at
both edges. Each check raises `BadBulletin` with a message naming the file and the limit.
"""

from __future__ import annotations

import io
import time
import zipfile
from dataclasses import dataclass

from qa.errors import BadBulletin

MAX_FILE_BYTES = 50 * 1024 * 1024
"""Bulletins are a few MB at most; anything bigger is a mistake, not worth holding in memory."""
MAX_PAGES = 60
"""A monthly bulletin has 4–20 pages."""
MAX_PAGE_PIXELS = 12_000_000
"""A page image (an uploaded .png/.jpg, or a PDF page rendered for OCR): A4 at 300 dpi is 8.7 MP."""
OCR_DPI = 150
"""Pages without a text layer are rendered at this resolution for recognition (ordinary scans)."""
OCR_SECONDS_PER_PAGE = 60.0
OCR_SECONDS_PER_FILE = 600.0
"""Recognition takes ~3–10 s per page on 2 cores; a page or a file far over that is refused."""

MAX_DOCX_MEMBERS = 2_000
MAX_DOCX_UNCOMPRESSED_BYTES = 100 * 1024 * 1024
MAX_DOCX_PART_BYTES = 30 * 1024 * 1024
MAX_DOCX_RATIO = 100
"""A .docx is a zip: its parts are checked before anything is decompressed, so a small file that
unpacks to gigabytes (a zip bomb) is refused at once. Word's document.xml compresses ~5–15×."""


def check_file_size(name: str, size: int) -> None:
    if size > MAX_FILE_BYTES:
        raise BadBulletin(f"{name} 有 {size / 2**20:.1f} MB，超过上限 {MAX_FILE_BYTES / 2**20:g} MB")


def check_page_count(name: str, pages: int) -> None:
    if pages > MAX_PAGES:
        raise BadBulletin(f"{name} 有 {pages} 页，超过上限 {MAX_PAGES} 页")


def check_page_pixels(name: str, width: int, height: int, where: str = "") -> None:
    if width * height > MAX_PAGE_PIXELS:
        raise BadBulletin(f"{name}{where}：图像有 {width}×{height} 像素，"
                          f"超过每页上限 {MAX_PAGE_PIXELS / 1e4:g} 万像素")


def check_docx_archive(name: str, data: bytes) -> None:
    """Refuse a .docx whose zip directory promises too much, before any part is inflated."""
    try:
        with zipfile.ZipFile(io.BytesIO(data)) as archive:
            members = archive.infolist()
    except (zipfile.BadZipFile, ValueError, OSError) as exc:
        raise BadBulletin(f"{name} 不是可读的 Word .docx 文件（{exc}）") from None
    if len(members) > MAX_DOCX_MEMBERS:
        raise BadBulletin(f"{name}：这个 .docx 有 {len(members)} 个部件，超过上限 {MAX_DOCX_MEMBERS} 个")
    total = sum(member.file_size for member in members)
    largest = max((member.file_size for member in members), default=0)
    if total > MAX_DOCX_UNCOMPRESSED_BYTES or largest > MAX_DOCX_PART_BYTES:
        raise BadBulletin(f"{name} 解压后有 {total / 2**20:.0f} MB，超过上限 "
                          f"{MAX_DOCX_UNCOMPRESSED_BYTES / 2**20:g} MB（每个部件 {MAX_DOCX_PART_BYTES / 2**20:g} MB）")
    if total > 1024 * 1024 and total > MAX_DOCX_RATIO * len(data):
        raise BadBulletin(f"{name} 解压后是原文件的 {total // max(1, len(data))} 倍，超过上限 "
                          f"{MAX_DOCX_RATIO} 倍（是压缩炸弹，不是文档）")


@dataclass(slots=True)
class OcrBudget:
    """Time spent recognising one file; `spend` raises once a page or the file is over its budget.

    A page's recognition cannot be interrupted, so it is checked when the page is done; the pixel
    limit keeps any single page from running long."""

    name: str
    per_page: float | None = None  # None: the module's limits as they are when reading starts
    per_file: float | None = None
    started: float = 0.0

    def __post_init__(self) -> None:
        self.per_page = OCR_SECONDS_PER_PAGE if self.per_page is None else self.per_page
        self.per_file = OCR_SECONDS_PER_FILE if self.per_file is None else self.per_file
        self.started = time.monotonic()

    def spend(self, page_number: int, page_seconds: float) -> None:
        if page_seconds > self.per_page:
            raise BadBulletin(f"{self.name}：识别第 {page_number} 页用了 {page_seconds:.0f} 秒，"
                              f"超过每页上限 {self.per_page:g} 秒")
        total = time.monotonic() - self.started
        if total > self.per_file:
            raise BadBulletin(f"{self.name}：识别到第 {page_number} 页已用 {total:.0f} 秒，"
                              f"超过每个文件上限 {self.per_file:g} 秒，已停止")
