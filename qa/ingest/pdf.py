"""PDF bulletins → page layout: characters with their font size and position (pdfplumber) for pages
with a text layer; pages without one (scans) are rendered (pypdfium2) and recognised (qa.ingest.ocr)."""

from __future__ import annotations

import io
import logging
import re
import unicodedata

import pdfplumber
import pypdfium2
from tqdm import tqdm

from qa.errors import BadBulletin

from .limits import OCR_DPI, MAX_PAGE_PIXELS, OcrBudget, check_page_count
from .pages import PageLines, TextLine

log = logging.getLogger(__name__)
# pypdf and pdfminer warn in English about each flaw of a damaged file ("invalid pdf header", "EOF marker not
# found") before the one readable error we raise for it.
for _library in ("pypdf", "pdfminer"):
    logging.getLogger(_library).setLevel(logging.ERROR)

# Kangxi radicals (U+2F00–U+2FDF): some Word→PDF converters map ideographs to these look-alikes
# ("⽣" for "生"), which would never match a question typed with the ordinary character.
_KANGXI_RADICALS = re.compile("[\u2f00-\u2fdf]")
_BOLD_FONT = re.compile(r"bold|heavy|black|semibold|demi", re.I)
_MIN_TEXT_CHARS = 10  # fewer characters than this on a page: it is an image (a scan), not text


def pdf_pages(name: str, data: bytes, *, progress: bool = False) -> tuple[list[PageLines], int]:
    """The pages' lines, and how many of the pages were recognised by OCR."""
    data = _decrypted(name, data)
    text_pages = _text_layer_pages(name, data)
    check_page_count(name, len(text_pages))
    scanned = [n for n, page in enumerate(text_pages) if page is None]
    if scanned:
        recognised = _recognised_pages(name, data, scanned, progress)
        for n, page in zip(scanned, recognised):
            text_pages[n] = page
    return [page for page in text_pages if page is not None], len(scanned)


def _decrypted(name: str, data: bytes) -> bytes:
    """Owner-password-only PDFs (printing/copying restricted) open with an empty password; pdfminer
    then misreads their fonts, so they are decrypted first (pypdf)."""
    from pypdf import PdfReader, PdfWriter

    try:
        reader = PdfReader(io.BytesIO(data))
        if not reader.is_encrypted:
            return data
        if not reader.decrypt(""):
            raise BadBulletin(f"{name} 有密码保护：请另存一份无密码的文件再加入")
        writer = PdfWriter(clone_from=reader)
        for page in writer.pages:
            _repair_cid_system_info(page)
        copy = io.BytesIO()
        writer.write(copy)
        return copy.getvalue()
    except BadBulletin:
        raise
    except Exception as exc:  # malformed PDFs surface as PdfReadError, ValueError, KeyError, ...
        raise BadBulletin(f"{name} 不是可读的 PDF：文件已损坏或不完整") from exc


_ORDERING_OF_CMAP = {"UniGB": "GB1", "UniCNS": "CNS1", "UniJIS": "Japan1", "UniKS": "Korea1"}


def _repair_cid_system_info(page) -> None:
    """Some encrypting writers (reportlab among them) encrypt a CID font's Registry/Ordering strings
    in a way that decrypts to bytes; without them pdfminer cannot map glyphs to Unicode. The
    font's standard CMap name says what they must be."""
    from pypdf.generic import NameObject, TextStringObject

    fonts = (page.get("/Resources") or {}).get("/Font") or {}
    for font in fonts.values():
        font = font.get_object()
        prefix = str(font.get("/Encoding", "")).lstrip("/").split("-")[0]
        if prefix not in _ORDERING_OF_CMAP:
            continue
        for descendant in font.get("/DescendantFonts") or []:
            info = descendant.get_object().get("/CIDSystemInfo")
            if info is not None and str(info.get_object().get("/Ordering")) != _ORDERING_OF_CMAP[prefix]:
                info = info.get_object()
                info[NameObject("/Registry")] = TextStringObject("Adobe")
                info[NameObject("/Ordering")] = TextStringObject(_ORDERING_OF_CMAP[prefix])


def _text_layer_pages(name: str, data: bytes) -> list[PageLines | None]:
    """Each page's text lines; None for a page without a text layer."""
    try:
        with pdfplumber.open(io.BytesIO(data), password="") as pdf:
            check_page_count(name, len(pdf.pages))
            pages = []
            for number, page in enumerate(pdf.pages, start=1):
                # "(cid:123)": a glyph without a Unicode mapping; a page of those is read as an image
                chars = [c for c in page.chars if c.get("upright", True) and not c["text"].startswith("(cid:")]
                visible = sum(1 for c in chars if c["text"].strip())
                lines = _char_runs(chars) if visible >= _MIN_TEXT_CHARS else None
                pages.append(PageLines(number, float(page.width), float(page.height), tuple(lines)) if lines else None)
            return pages
    except BadBulletin:
        raise
    except Exception as exc:  # pdfminer reports damage as PSSyntaxError, PDFSyntaxError, KeyError, ...
        if "password" in type(exc).__name__.lower() or "Password" in str(exc):
            raise BadBulletin(f"{name} 有密码保护：请另存一份无密码的文件再加入") from None
        raise BadBulletin(f"{name} 不是可读的 PDF：文件已损坏或不完整") from exc


def _char_runs(chars: list[dict]) -> list[TextLine]:
    """Characters → runs of text on one baseline, split where a gap wider than a character opens
    (between columns, or before a right-aligned page number)."""
    rows: list[list[dict]] = []
    for char in sorted((c for c in chars if c.get("upright", True)), key=lambda c: (round(c["bottom"], 1), c["x0"])):
        if rows and abs(rows[-1][-1]["bottom"] - char["bottom"]) <= 0.3 * char["size"]:
            rows[-1].append(char)
        else:
            rows.append([char])
    runs: list[TextLine] = []
    for row in rows:
        current: list[dict] = []
        for char in sorted(row, key=lambda c: c["x0"]):
            if current and char["x0"] - current[-1]["x1"] > 1.0 * char["size"]:
                runs.extend(_run(current))
                current = []
            current.append(char)
        runs.extend(_run(current))
    return runs


def _run(chars: list[dict]) -> list[TextLine]:
    # A space drawn as a gap ("主题　副题" set with an em space that has no glyph) is still a space.
    text = chars[0]["text"] if chars else ""
    for previous, char in zip(chars, chars[1:]):
        gap = char["x0"] - previous["x1"]
        if gap >= 0.5 * char["size"] and not (previous["text"].isspace() or char["text"].isspace()):
            text += " "
        text += char["text"]
    text = _KANGXI_RADICALS.sub(lambda match: unicodedata.normalize("NFKC", match.group()), text)
    # A space where the line wraps still separates "主题" from "副题" once the lines are joined.
    text = text.lstrip() + (" " if text.strip() and text[-1].isspace() else "")
    text = text.rstrip() + " " if text.endswith(" ") else text
    visible = [c for c in chars if c["text"].strip()]
    if not text or not visible:
        return []
    size = max(c["size"] for c in visible)
    bold = all(_BOLD_FONT.search(c.get("fontname", "")) for c in visible)
    return [TextLine(text, min(c["x0"] for c in visible), max(c["x1"] for c in visible),
                     min(c["top"] for c in visible), max(c["bottom"] for c in visible), size, bold)]


def _recognised_pages(name: str, data: bytes, numbers: list[int], progress: bool) -> list[PageLines]:
    from .ocr import recognise  # loads onnxruntime and OpenCV: only when a page needs it

    budget = OcrBudget(name)
    try:
        document = pypdfium2.PdfDocument(data)
    except pypdfium2.PdfiumError as exc:
        raise BadBulletin(f"{name} 不是可读的 PDF（{exc}）") from None
    recognised = []
    try:
        for n in tqdm(numbers, desc=f"文字识别 {name}", unit="页", disable=not progress):
            page = document[n]
            width, height = page.get_size()
            scale = min(OCR_DPI / 72, (MAX_PAGE_PIXELS / max(1.0, width * height)) ** 0.5)
            image = page.render(scale=scale).to_pil()
            recognised.append(recognise(image, n + 1, name=name, scale=scale, budget=budget))
    finally:
        document.close()
    return recognised
