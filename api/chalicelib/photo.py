"""The on-site photo of the responsible person (notice 二.1(4)).

800x600 pixels (either way round: the rules give a long and a short side), colour,
front-facing, showing the capture time and the curtain's marker. The verifier's
client runs ``prepare_photo`` before encrypting: it refuses other sizes and
greyscale images, reads the capture time from EXIF, and stamps the
time and the provider's curtain marker visibly on the image if they are absent.

Every time is China time with its zone (+08:00), whatever the verifier machine's zone: an
EXIF time carries its zone in OffsetTimeOriginal where the camera wrote one, and is taken as
China time where it did not (the camera is at the provider's desk).
"""

from __future__ import annotations

import io
import os
from dataclasses import asdict, dataclass
from datetime import datetime
from pathlib import Path
from typing import Any

from PIL import Image, ImageChops, ImageDraw, ImageFont, UnidentifiedImageError

from .deadlines import CHINA_STANDARD_TIME, china_time
from .errors import Invalid
from .rules import load_rules

STAMP_KEY = "beian-stamp"
EXIF_DATETIME_ORIGINAL = 0x9003
EXIF_IFD = 0x8769
EXIF_OFFSET_TIME_ORIGINAL = 0x9011
EXIF_FORMAT = "%Y:%m:%d %H:%M:%S"
DEFAULT_FONT = "/usr/share/fonts/truetype/wqy/wqy-microhei.ttc"


@dataclass(frozen=True)
class PhotoInfo:
    width: int
    height: int
    colour: bool
    captured_at: str
    curtain_marker: str
    stamped_by_client: bool

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


def cjk_font_path() -> Path:
    return Path(os.environ.get("BEIAN_CJK_FONT", DEFAULT_FONT))


def _refuse(zh: str, en: str) -> Invalid:
    return Invalid(zh, en, field="photo")


def _is_colour(image: Image.Image) -> bool:
    if image.mode not in ("RGB", "RGBA", "YCbCr", "CMYK", "P"):
        return False
    rgb = image.convert("RGB")
    red, green, blue = rgb.split()
    # A greyscale picture saved as RGB has three identical channels.
    return bool(ImageChops.difference(red, green).getbbox() or ImageChops.difference(green, blue).getbbox())


def _capture_time(image: Image.Image) -> datetime | None:
    exif = image.getexif()
    details = exif.get_ifd(EXIF_IFD)
    raw = details.get(EXIF_DATETIME_ORIGINAL) or exif.get(0x0132)
    offset = str(details.get(EXIF_OFFSET_TIME_ORIGINAL) or "")
    try:
        if not raw:
            return None
        if offset:
            return datetime.strptime(f"{raw}{offset}", EXIF_FORMAT + "%z")
        return datetime.strptime(str(raw), EXIF_FORMAT).replace(tzinfo=CHINA_STANDARD_TIME)
    except ValueError:
        return None


def prepare_photo(data: bytes, *, curtain_marker: str, now: datetime) -> tuple[bytes, PhotoInfo]:
    """Check the photo and return it as a stamped JPEG with what was found. ``now`` must
    carry its zone; the stamp and ``captured_at`` are China time with +08:00."""
    try:
        image = Image.open(io.BytesIO(data))
        image.load()
    except (UnidentifiedImageError, OSError) as error:
        raise _refuse("照片无法识别，请上传 JPEG 或 PNG 图片",
                      "The photo cannot be read; use a JPEG or PNG image") from error
    spec = load_rules().photo
    width, height = image.size
    if (max(width, height), min(width, height)) != (spec.long_side_px, spec.short_side_px):
        size = f"{spec.long_side_px}×{spec.short_side_px}"
        raise _refuse(f"照片须为 {size} 像素（横竖均可），当前为 {width}×{height}",
                      f"The photo must be {size} pixels (either way round), not {width}x{height}")
    if not _is_colour(image):
        raise _refuse("照片须为彩色照片", "The photo must be in colour, not greyscale")
    captured = _capture_time(image)
    already = image.info.get(STAMP_KEY) or image.getexif().get(0x010E) == STAMP_KEY
    stamped = image.convert("RGB")
    taken = (captured or now).astimezone(CHINA_STANDARD_TIME)
    captured_at = china_time(taken)
    if not already:
        _stamp(stamped, f"{captured_at}  {curtain_marker}")
    exif = Image.Exif()
    exif[0x010E] = STAMP_KEY  # ImageDescription: marks a photo this client has stamped
    exif[0x0132] = taken.strftime(EXIF_FORMAT)
    exif.get_ifd(EXIF_IFD).update({EXIF_DATETIME_ORIGINAL: taken.strftime(EXIF_FORMAT),
                                   EXIF_OFFSET_TIME_ORIGINAL: "+08:00"})
    out = io.BytesIO()
    stamped.save(out, format="JPEG", quality=92, exif=exif)
    info = PhotoInfo(width, height, True, captured_at, curtain_marker, not already)
    return out.getvalue(), info


def _stamp(image: Image.Image, text: str) -> None:
    draw = ImageDraw.Draw(image)
    font_size = 22 if image.width >= 800 else 16  # the stamp fits across a portrait photo too
    font = ImageFont.truetype(str(cjk_font_path()), font_size, index=0)
    left, top, right, bottom = draw.textbbox((0, 0), text, font=font)
    x, y = image.width - (right - left) - 16, image.height - (bottom - top) - 16
    draw.rectangle((x - 8, y - 6, image.width - 8, image.height - 8), fill=(0, 0, 0))
    draw.text((x, y - top), text, font=font, fill=(255, 255, 255))
