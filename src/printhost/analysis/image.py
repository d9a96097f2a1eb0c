"""JPEG and PNG: one page, sized from the pixel dimensions and the resolution the file
records (JFIF density, PNG pHYs; 72 dpi when it records none), after EXIF orientation.
Colour when any pixel, composited on white, has channels further apart than
:data:`COLOR_TOLERANCE` (0 for lossless PNG; JPEG's lossy chroma may shift a grey by a
level or two).
"""

from __future__ import annotations

from typing import BinaryIO

from PIL import Image, ImageChops

from printhost.analysis.model import Analysis, AnalysisError

MAX_PIXELS = 100_000_000  # checked before decoding; below Pillow's own bomb error
JPEG_TOLERANCE = 4
_FORMATS = {"JPEG": "image/jpeg", "PNG": "image/png"}
_ROTATED_ORIENTATIONS = {5, 6, 7, 8}  # EXIF orientations that swap width and height


def analyze_image(stream: BinaryIO, expected: str) -> Analysis:
    try:
        with Image.open(stream, formats=list(_FORMATS)) as image:
            mime = _FORMATS.get(image.format or "")
            if mime != expected:
                raise AnalysisError(f"declared {expected} but the file is {image.format}")
            width, height = image.size
            if width * height > MAX_PIXELS:
                raise AnalysisError(f"image of {width}x{height} pixels is too large")
            size = _page_size(image)
            image.load()
            color = is_color_image(image, JPEG_TOLERANCE if mime == "image/jpeg" else 0)
    except (OSError, ValueError, SyntaxError, Image.DecompressionBombError) as exc:
        raise AnalysisError(f"unreadable image: {exc}") from None
    return Analysis(format=mime, pages=1, color_pages=(1,) if color else (), page_sizes=(size,))


def _page_size(image: Image.Image) -> tuple[float, float]:
    width, height = image.size
    xdpi, ydpi = _dpi(image)
    size = (round(width * 72 / xdpi, 2), round(height * 72 / ydpi, 2))
    orientation = image.getexif().get(0x0112, 1)
    return (size[1], size[0]) if orientation in _ROTATED_ORIENTATIONS else size


def _dpi(image: Image.Image) -> tuple[float, float]:
    dpi = image.info.get("dpi")
    if isinstance(dpi, tuple) and len(dpi) == 2:
        # PNG stores pixels per metre: 144 dpi comes back as 143.9985
        x, y = round(float(dpi[0]), 1), round(float(dpi[1]), 1)
        if 1 <= x <= 100_000 and 1 <= y <= 100_000:
            return x, y
    return 72.0, 72.0


def is_color_image(image: Image.Image, tolerance: int) -> bool:
    """True when some pixel (on white, if the image has transparency) is not neutral."""
    if image.mode in ("1", "L", "LA", "La", "F") or image.mode.startswith("I"):
        return False
    if image.mode == "CMYK":
        cyan, magenta, yellow, _ = image.split()
        return any(
            band.point(lambda v: 255 if v > tolerance else 0).getbbox()
            for band in (cyan, magenta, yellow)
        )
    rgba = image.convert("RGBA")
    flat = Image.new("RGBA", rgba.size, (255, 255, 255, 255))
    flat.alpha_composite(rgba)
    red, green, blue, _ = flat.split()
    for one, other in ((red, green), (green, blue), (red, blue)):
        spread = ImageChops.difference(one, other)
        if spread.point(lambda v: 255 if v > tolerance else 0).getbbox():
            return True
    return False
