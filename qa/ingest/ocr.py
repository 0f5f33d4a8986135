"""Offline OCR for page images (scanned PDF pages, .png/.jpg): RapidOCR's PP-OCRv4 Chinese models,
which ship inside the rapidocr-onnxruntime wheel (nothing is downloaded at run time).

Recognised lines come back with their boxes, straightened by the page's skew, as `TextLine`s in the
caller's units, so the same page layout logic as for text PDFs applies.
"""

from __future__ import annotations

import logging
import math
import re
import statistics
import threading
import time

import numpy as np
from PIL import Image

from qa.errors import BadBulletin

from .limits import OcrBudget, check_page_pixels
from .pages import PageLines, TextLine

log = logging.getLogger(__name__)

_engine = None
_engine_lock = threading.Lock()  # one recognition at a time: onnxruntime already uses every core

_CJK = "\u3400-\u9fff\u3000-\u303f\uff00-\uffef"
_FULL_WIDTH = {",": "，", ":": "：", ";": "；", "!": "！", "?": "？", "(": "（", ")": "）"}
_ASCII_NEXT_TO_CJK = re.compile(rf"(?<=[{_CJK}])[,:;!?()]|[,:;!?()](?=[{_CJK}])")


def _ocr_engine(name: str):
    global _engine
    if _engine is None:
        try:
            from rapidocr_onnxruntime import RapidOCR
        except ImportError as exc:  # e.g. OpenCV without its system libraries
            raise BadBulletin(f"{name} 需要文字识别（OCR），但本机无法使用（{exc}）") from None
        # Upright scans: the 180° line classifier only costs time.
        _engine = RapidOCR(use_cls=False)
    return _engine


def recognise(image: Image.Image, number: int, *, name: str, scale: float = 1.0,
              budget: OcrBudget | None = None) -> PageLines:
    """Recognise one page image; coordinates are divided by `scale` (pixels per caller unit)."""
    check_page_pixels(name, image.width, image.height, f" 第 {number} 页")
    pixels = np.asarray(image.convert("RGB"))
    started = time.monotonic()
    with _engine_lock:
        result, _ = _ocr_engine(name)(pixels, return_word_box=True)
    seconds = time.monotonic() - started
    lines = _lines_from_result(result or [], image.width, image.height, scale)
    confidence = statistics.fmean(line.confidence for line in lines) if lines else 0.0
    log.info("%s: page %d recognised in %.1f s, %d lines, confidence %.3f", name, number, seconds, len(lines),
             confidence)
    if budget is not None:
        budget.spend(number, seconds)
    return PageLines(number, image.width / scale, image.height / scale, tuple(lines))


def _lines_from_result(result: list, width: int, height: int, scale: float) -> list[TextLine]:
    angle = _skew(result)
    cx, cy = width / 2, height / 2
    cos, sin = math.cos(-angle), math.sin(-angle)
    lines = []
    for box, text, score, *characters in result:
        text = normalise_punctuation(_spaced_text(text, *characters).strip())
        if not text:
            continue
        xs, ys = [], []
        for x, y in box:  # undo the skew: rotate the box corners about the page centre
            xs.append(cx + (x - cx) * cos - (y - cy) * sin)
            ys.append(cy + (x - cx) * sin + (y - cy) * cos)
        x0, x1, top, bottom = min(xs) / scale, max(xs) / scale, min(ys) / scale, max(ys) / scale
        lines.append(TextLine(text, x0, x1, top, bottom, _em_size(text, x1 - x0, bottom - top),
                              confidence=float(score)))
    return lines


def _em_size(text: str, width: float, height: float) -> float:
    """The font size, from the line's width per character: box heights vary with the glyphs in
    them, but CJK characters are one em wide (Latin letters and digits about half)."""
    ems = sum(1.0 if _is_wide(char) else 0.55 for char in text if not char.isspace())
    return width / ems if ems >= 2 else height


def _is_wide(char: str) -> bool:
    return "\u2e80" <= char <= "\u9fff" or "\uff00" <= char <= "\uffef" or char in "“”‘’—…"


def _spaced_text(text: str, boxes=None, characters=None, _scores=None) -> str:
    """The line's text with a space where the characters stand apart by half an em or more
    ("主题　副题", "张某某　某某局" set with an em space); the recogniser never emits those spaces."""
    if not boxes or not characters or len(boxes) != len(characters):
        return text
    widths = sorted(box[1][0] - box[0][0] for box, char in zip(boxes, characters) if _is_wide(char))
    if not widths:
        return text
    em = widths[len(widths) // 2]
    out = [characters[0]]
    for previous, box, char in zip(boxes, boxes[1:], characters[1:]):
        if box[0][0] - previous[1][0] >= 0.8 * em:  # an em space; character boxes are ±0.3 em
            out.append(" ")
        out.append(char)
    return "".join(out)


def _skew(result: list) -> float:
    """The page's tilt in radians, from the top edges of long text boxes."""
    angles = []
    for box, *_ in result:
        (x0, y0), (x1, y1) = box[0], box[1]
        height = math.dist(box[0], box[3])
        if x1 - x0 > 5 * max(height, 1):
            angles.append(math.atan2(y1 - y0, x1 - x0))
    return statistics.median(angles) if angles else 0.0


def normalise_punctuation(text: str) -> str:
    """The recogniser often reads full-width punctuation as ASCII; Chinese text sets it full width."""
    text = _ASCII_NEXT_TO_CJK.sub(lambda match: _FULL_WIDTH[match.group()], text)
    out, open_quote = [], False
    for char in text:
        if char == '"':
            char = "”" if open_quote else "“"
        if char in "“”":
            open_quote = char == "“"
        out.append(char)
    return "".join(out)
