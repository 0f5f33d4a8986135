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
# A gap this many ems wide between two characters is a space: an em space (主题　副题) measures
# 1.04–1.09 em of blank on the benchmark's 150 dpi scans, the gap between characters at most 0.5 em.
SPACE_EMS = 0.75
# Full-width punctuation sets its ink in one half of its em and leaves the other blank
_BLANK_AFTER = frozenset("，。、；：！？）》」』】〕〉,.;:!?)")
_BLANK_BEFORE = frozenset("（《「『【〔〈(")


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
    lines = _lines_from_result(result or [], np.asarray(image.convert("L")), scale)
    confidence = statistics.fmean(line.confidence for line in lines) if lines else 0.0
    log.info("%s: page %d recognised in %.1f s, %d lines, confidence %.3f", name, number, seconds, len(lines),
             confidence)
    if budget is not None:
        budget.spend(number, seconds)
    return PageLines(number, image.width / scale, image.height / scale, tuple(lines))


def _lines_from_result(result: list, grey: np.ndarray, scale: float) -> list[TextLine]:
    angle = _skew(result)
    height, width = grey.shape
    cx, cy = width / 2, height / 2
    cos, sin = math.cos(-angle), math.sin(-angle)
    lines = []
    for box, text, score, *characters in result:
        text = normalise_punctuation(_spaced_text(text, grey, box, *characters).strip())
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


def _spaced_text(text: str, grey: np.ndarray, box, character_boxes=None, characters=None,
                 _scores=None) -> str:
    """The line's text with a space where the page shows one ("主题　副题", "张某某　某某局",
    "建设　“制储输用”" set with an em space); the recogniser never emits those spaces.

    The recogniser's character boxes hide most of such a gap: each is centred where the character
    was read and is as wide as the line's average character, so between "设" and the narrow "“" after
    an em space they leave half an em or so. So the gap is measured on the page: the widest run of
    blank columns between two characters' centres, in ems of the line's own ink."""
    if not character_boxes or not characters or len(character_boxes) != len(characters):
        return text
    ink, origin, along = _ink_columns(grey, box)
    inked = np.flatnonzero(ink)
    ems = sum(1.0 if _is_wide(char) else 0.55 for char in characters if not char.isspace())
    if len(inked) == 0 or ems < 2:
        return text
    em = (inked[-1] - inked[0] + 1) / ems
    centres = [float(np.dot(np.mean(corners, axis=0) - origin, along)) for corners in character_boxes]
    gaps = _blank_between(ink, centres)
    out = [characters[0]]
    for previous, char, gap in zip(characters, characters[1:], gaps):
        if gap >= SPACE_EMS * em and not _carries_blank(previous, char):
            out.append(" ")
        out.append(char)
    return "".join(out)


def _carries_blank(previous: str, char: str) -> bool:
    """Full-width punctuation brings its own blank (up to an em after "，"); print sets no space
    there, and recognised spaces are kept as they are."""
    return previous in _BLANK_AFTER or char in _BLANK_BEFORE or previous.isspace() or char.isspace()


def _ink_columns(grey: np.ndarray, box) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Which columns of the line's (possibly tilted) box hold ink, read along its top edge; with the
    box's origin and unit direction, to place the characters on those columns."""
    corners = np.asarray(box, dtype=float)
    origin, along, down = corners[0], corners[1] - corners[0], corners[3] - corners[0]
    width, height = max(1, round(float(np.hypot(*along)))), max(1, round(float(np.hypot(*down))))
    along, down = along / width, down / height
    u, v = np.arange(width)[None, :], np.arange(height)[:, None]
    xs = np.clip(np.rint(origin[0] + u * along[0] + v * down[0]), 0, grey.shape[1] - 1).astype(int)
    ys = np.clip(np.rint(origin[1] + u * along[1] + v * down[1]), 0, grey.shape[0] - 1).astype(int)
    crop = grey[ys, xs]
    dark, paper = np.percentile(crop, 2), np.percentile(crop, 90)
    if paper - dark < 32:  # no contrast: nothing to measure
        return np.zeros(width, dtype=bool), origin, along
    return (crop < (dark + paper) / 2).any(axis=0), origin, along


def _blank_between(ink: np.ndarray, centres: list[float]) -> list[float]:
    """For each pair of neighbouring character centres, the widest blank run whose middle lies between them."""
    edges = np.diff(np.concatenate(([1], ink.astype(np.int8), [1])))
    starts, ends = np.flatnonzero(edges == -1), np.flatnonzero(edges == 1)
    gaps = np.zeros(max(0, len(centres) - 1))
    if len(gaps):
        pair = np.searchsorted(centres, (starts + ends) / 2) - 1
        inside = (pair >= 0) & (pair < len(gaps))
        np.maximum.at(gaps, pair[inside], (ends - starts)[inside])
    return gaps.tolist()


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
