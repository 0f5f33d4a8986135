"""Page images (.png, .jpg): one scanned page per file, recognised by OCR."""

from __future__ import annotations

import io
import warnings

from PIL import Image, UnidentifiedImageError

from qa.errors import BadBulletin

from .limits import MAX_PAGE_PIXELS, OcrBudget, check_page_pixels
from .pages import PageLines


def image_page(name: str, data: bytes) -> PageLines:
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("error", Image.DecompressionBombWarning)
            image = Image.open(io.BytesIO(data))
            check_page_pixels(name, image.width, image.height)  # from the header, before decoding
            image.load()
    except BadBulletin:
        raise
    except (UnidentifiedImageError, OSError, SyntaxError, ValueError, Image.DecompressionBombWarning,
            Image.DecompressionBombError) as exc:
        raise BadBulletin(f"{name} 不是可读的图片（{exc}）") from None
    from .ocr import recognise  # loads onnxruntime and OpenCV: only when a page needs it

    return recognise(image, 1, name=name, budget=OcrBudget(name))


assert MAX_PAGE_PIXELS < Image.MAX_IMAGE_PIXELS  # Pillow's own bomb check stays the looser backstop
