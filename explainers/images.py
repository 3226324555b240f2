"""Turn uploaded picture bytes into an RGB array the explainers can use, or refuse them in plain words.

What: :func:`decode` takes the raw bytes of an upload and returns an ``(H, W, 3)`` ``uint8`` RGB array
(C-contiguous, writable), with the camera's EXIF orientation applied and any transparency painted over
white. :func:`probe` reads only the file header and reports ``(format, width, height)``.
:func:`describe_limits` gives one sentence for the UI's help text.

Why this module is careful:

* Uploads come from strangers. Only JPEG, PNG, WebP and GIF are opened at all (Pillow is told not to
  try any other reader), so formats with large or risky parsers (SVG, TIFF, PSD, EPS, ...) never run.
* Size limits are judged from the header, before any pixel is decoded, so a tiny file that claims to be
  50,000 × 50,000 pixels (a "decompression bomb") is refused at once and costs no memory. Pillow's own
  bomb error and warning are turned into our message, never passed on.
* A truncated or damaged file is refused, never silently padded with grey, even if some other code in
  the process has switched on Pillow's global ``ImageFile.LOAD_TRUNCATED_IMAGES``.
* An animated GIF or WebP is reduced to its first frame without walking the other frames.
* Every refusal is an :class:`~explainers.errors.ImageError` whose message a person who has never coded
  can act on; nothing Pillow raises (``OSError``, ``SyntaxError``, ``struct.error``, ...) gets through.
  ``MemoryError`` and ``KeyboardInterrupt`` are deliberately left alone.

This module never imports TensorFlow or Dash, so the web process can use it cheaply.
"""

from __future__ import annotations

import io
import threading
import warnings
from collections.abc import Iterator
from contextlib import contextmanager

import numpy as np
from PIL import Image, ImageFile, ImageOps

from explainers.errors import ImageError

__all__ = [
    "ALLOWED_FORMATS",
    "MAX_PIXELS",
    "MAX_SIDE",
    "MIN_SIDE",
    "decode",
    "describe_limits",
    "probe",
]

ALLOWED_FORMATS: tuple[str, ...] = ("JPEG", "PNG", "WEBP", "GIF")
"""Pillow format names we open. Nothing else is even attempted."""

MIN_SIDE = 32
"""Smallest accepted width and height, in pixels."""

MAX_SIDE = 10_000
"""Largest accepted width or height, in pixels."""

MAX_PIXELS = 50_000_000
"""Largest accepted width × height."""

# How each format is written for people.
_FORMAT_NAMES = {"JPEG": "JPEG", "PNG": "PNG", "WEBP": "WebP", "GIF": "GIF"}

# Pillow reports some JPEG variants under their own names; they are still JPEG files.
_FORMAT_ALIASES = {"MPO": "JPEG", "JFIF": "JPEG"}

# Signatures of the formats we accept, used to tell "damaged" apart from "not a picture at all".
_OWN_SIGNATURES: tuple[tuple[bytes, ...], ...] = (
    (b"\xff\xd8\xff",),
    (b"\x89PNG\r\n\x1a\n",),
    (b"GIF87a", b"GIF89a"),
)


def _accepted_list(conjunction: str = "or") -> str:
    names = [_FORMAT_NAMES.get(f, f) for f in ALLOWED_FORMATS]
    if len(names) == 1:
        return names[0]
    return f"{', '.join(names[:-1])} {conjunction} {names[-1]}"


def _megapixels() -> str:
    return f"{MAX_PIXELS / 1_000_000:g}"


def _upload_again() -> str:
    return f"Please upload a {_accepted_list()} picture."


# --------------------------------------------------------------------------------------------------
# Messages (plain words only: what is wrong and what to do).


def _msg_not_bytes(data: object) -> str:
    if isinstance(data, str):
        return f"We received text instead of a picture file. {_upload_again()}"
    return f"We did not receive a picture file. {_upload_again()}"


def _msg_empty() -> str:
    return "The file is empty: there is nothing in it. Please choose the picture again and re-upload it."


def _msg_not_a_picture() -> str:
    return f"This file is not a picture we can read. {_upload_again()}"


def _msg_other_format(what: str) -> str:
    return (
        f"This file is {what}, which is not a supported picture type here. "
        f"Please save it as a {_accepted_list()} picture and upload that instead."
    )


def _msg_damaged() -> str:
    return (
        "This picture seems to be damaged or incomplete (perhaps the upload was cut off), so we cannot "
        "read it. Please try uploading it again, or open it in a photo app and save a new copy as JPEG "
        "or PNG."
    )


def _msg_unusual_colours() -> str:
    return (
        "This picture stores its colours in an unusual way that we cannot handle. Please open it in a "
        "photo app, save a new copy as an ordinary JPEG or PNG, and upload that."
    )


def _msg_size(width: int | None, height: int | None, too_small: bool, too_large: bool) -> str:
    large_rule = f"the largest we accept is {MAX_SIDE:,} pixels on a side and {_megapixels()} megapixels in all"
    small_rule = f"it must be at least {MIN_SIDE} × {MIN_SIDE} pixels"
    if width is None or height is None:
        return f"This picture is far too large; {large_rule}. Please make it smaller and upload it again."
    start = f"This picture is {width} × {height} pixels"
    if too_small and too_large:
        return (
            f"{start}, which is too thin in one direction and too long in the other: {small_rule}, and "
            f"{large_rule}. Please upload a picture with more ordinary proportions."
        )
    if too_large:
        return f"{start}; {large_rule}. Please make it smaller and upload it again."
    return f"{start}; {small_rule}. Please upload a bigger picture."


# --------------------------------------------------------------------------------------------------
# Recognising formats we refuse, so the message can name them.


# Sizes of the known BMP info headers; checked so that text starting with "BM" is not called a BMP.
_BMP_HEADER_SIZES = frozenset({12, 16, 40, 52, 56, 64, 108, 124})


def _describe_other_format(data: bytes) -> str | None:
    """Name a well-known non-accepted file type from its first bytes, or ``None``."""
    head = data[:64]
    if head.startswith((b"II*\x00", b"MM\x00*", b"II+\x00", b"MM\x00+")):
        return "a TIFF picture"
    if head.startswith(b"BM") and int.from_bytes(head[14:18], "little") in _BMP_HEADER_SIZES:
        return "a BMP picture"
    if head.startswith(b"\x00\x00\x01\x00"):
        return "an icon (ICO) file"
    if head.startswith(b"\x00\x00\x02\x00"):
        return "a cursor (CUR) file"
    if head.startswith(b"8BPS"):
        return "a Photoshop (PSD) file"
    if head.startswith(b"%PDF"):
        return "a PDF document"
    if head.startswith((b"%!PS", b"\xc5\xd0\xd3\xc6")):
        return "a PostScript (EPS) file"
    if head.startswith(b"RIFF") and head[8:12] == b"WEBP":
        return None  # our own format; if it failed to open it is damaged, handled by the caller
    if head[4:8] == b"ftyp":
        brand = head[8:12]
        if brand in (b"avif", b"avis"):
            return "an AVIF picture"
        if brand in (b"heic", b"heix", b"hevc", b"hevx", b"heim", b"heis", b"mif1", b"msf1"):
            return "a HEIC photo (the format many iPhones use)"
        return "a video or other media file"
    if head.startswith((b"\x00\x00\x00\x0cjP  \r\n\x87\n", b"\xff\x4f\xff\x51")):
        return "a JPEG 2000 picture"
    if head.startswith((b"\xff\x0a", b"\x00\x00\x00\x0cJXL \r\n\x87\n")):
        return "a JPEG XL picture"
    if head.startswith(b"PK\x03\x04"):
        return "a compressed archive or office document"
    text_start = data[:4096].lstrip(b"\xef\xbb\xbf \t\r\n").lower()
    if text_start.startswith(b"<") and b"<svg" in text_start:
        return "an SVG drawing"
    if b"\x00" not in data[:4096]:
        try:
            data[:4096].decode("utf-8")
        except UnicodeDecodeError as exc:
            # A multi-byte character cut at the 4096th byte still counts as text.
            if exc.start < 4090:
                return None
        if text_start.startswith((b"<!doctype html", b"<html")):
            return "a web page"
        return "a text file"
    return None


def _claims_accepted_format(data: bytes) -> bool:
    """True if the first bytes say JPEG, PNG, GIF or WebP (so a failure to open means damage)."""
    if any(data.startswith(sigs) for sigs in _OWN_SIGNATURES):
        return True
    return data.startswith(b"RIFF") and data[8:12] == b"WEBP"


# --------------------------------------------------------------------------------------------------
# Opening (header only) and the size rules.


def _as_bytes(data: object) -> bytes:
    if isinstance(data, bytes):
        out = data
    elif isinstance(data, bytearray):
        out = bytes(data)
    elif isinstance(data, memoryview):
        out = data.tobytes()
    else:
        raise ImageError(_msg_not_bytes(data))
    if not out:
        raise ImageError(_msg_empty())
    return out


def _check_size(width: int, height: int) -> None:
    too_large = width > MAX_SIDE or height > MAX_SIDE or width * height > MAX_PIXELS
    too_small = width < MIN_SIDE or height < MIN_SIDE
    if too_large or too_small:
        raise ImageError(_msg_size(width, height, too_small, too_large))


def _normalise_format(name: str | None) -> str | None:
    if name is None:
        return None
    name = name.upper()
    return _FORMAT_ALIASES.get(name, name)


def _size_past_pillow_limit(data: bytes) -> tuple[int, int] | None:
    """Read the header size of an image Pillow refused as a decompression bomb.

    ``Image.open`` raises before handing back the image, so its size is lost; this asks the readers
    of the accepted formats directly (header only, no pixels) so the message can echo the size.
    """
    try:
        Image.init()
        prefix = data[:16]
        for fmt in ALLOWED_FORMATS:
            entry = Image.OPEN.get(fmt)
            if entry is None:
                continue
            factory, accept = entry
            verdict = accept(prefix) if accept else True
            if verdict is not True:
                continue
            with factory(io.BytesIO(data), "") as im:
                width, height = im.size
                return int(width), int(height)
    except MemoryError:
        raise
    except Exception:
        return None
    return None


# Serialises the header read: ``warnings.catch_warnings`` edits process-wide state and is not
# thread-safe on its own. Only the header is read under this lock (quick); pixels load outside it.
_open_lock = threading.Lock()


def _open_checked(data: bytes) -> tuple[ImageFile.ImageFile, str, int, int]:
    """Open lazily (header only) and apply every header-level rule. The caller closes the image."""
    try:
        with _open_lock, warnings.catch_warnings():
            warnings.simplefilter("ignore", Image.DecompressionBombWarning)
            im = Image.open(io.BytesIO(data), formats=list(ALLOWED_FORMATS))
    except MemoryError:
        raise
    except Image.DecompressionBombError as exc:
        size = _size_past_pillow_limit(data)
        if size is None:
            raise ImageError(_msg_size(None, None, False, True)) from exc
        raise ImageError(_msg_size(size[0], size[1], False, True)) from exc
    except Image.UnidentifiedImageError as exc:
        if _claims_accepted_format(data):
            raise ImageError(_msg_damaged()) from exc
        other = _describe_other_format(data)
        raise ImageError(_msg_other_format(other) if other else _msg_not_a_picture()) from exc
    except Exception as exc:  # any other failure while reading the header: the file is broken
        raise ImageError(_msg_damaged()) from exc

    try:
        fmt = _normalise_format(im.format)
        if fmt not in ALLOWED_FORMATS:  # defensive: Pillow was told to open nothing else
            raise ImageError(_msg_not_a_picture())
        width, height = (int(v) for v in im.size)
        _check_size(width, height)
    except BaseException:
        im.close()
        raise
    return im, fmt, width, height


# --------------------------------------------------------------------------------------------------
# Loading pixels with truncation detection guaranteed.

_flag_lock = threading.Lock()
_strict_loads = 0
_saved_truncation_flag = False


@contextmanager
def _truncation_detected() -> Iterator[None]:
    """Keep Pillow's global ``ImageFile.LOAD_TRUNCATED_IMAGES`` off while we load pixels.

    Pillow reads that module-level flag during ``load()``; when it is on, a cut-off JPEG comes back
    padded with grey instead of failing. We switch it off while any of our loads runs and put the
    previous value back when the last one finishes. A counter (rather than one lock around the whole
    load) lets several uploads decode in parallel threads.
    """
    global _strict_loads, _saved_truncation_flag
    with _flag_lock:
        if _strict_loads == 0:
            _saved_truncation_flag = ImageFile.LOAD_TRUNCATED_IMAGES
        _strict_loads += 1
        ImageFile.LOAD_TRUNCATED_IMAGES = False
    try:
        yield
    finally:
        with _flag_lock:
            _strict_loads -= 1
            if _strict_loads == 0:
                ImageFile.LOAD_TRUNCATED_IMAGES = _saved_truncation_flag


def _load_pixels(im: ImageFile.ImageFile) -> None:
    try:
        with _truncation_detected():
            im.load()
    except MemoryError:
        raise
    except Image.DecompressionBombError as exc:  # not raised by load() today; kept as a safeguard
        raise ImageError(_msg_size(None, None, False, True)) from exc
    except Exception as exc:
        raise ImageError(_msg_damaged()) from exc


def _apply_orientation(im: Image.Image) -> None:
    """Rotate/flip in place as the EXIF orientation tag says (e.g. tag 6: a quarter turn clockwise).

    A broken EXIF block does not make the photo unusable, so if it cannot be read the pixels are used
    as stored.
    """
    try:
        ImageOps.exif_transpose(im, in_place=True)
    except MemoryError:
        raise
    except Exception:
        pass


# --------------------------------------------------------------------------------------------------
# Colour conversion.

_HIGH_DEPTH_GREY = ("I;16", "I;16L", "I;16B", "I;16N", "I")


def _grey_to_rgb(grey: np.ndarray) -> np.ndarray:
    return np.ascontiguousarray(np.repeat(grey[:, :, np.newaxis], 3, axis=2))


def _high_depth_to_rgb(im: Image.Image) -> np.ndarray:
    """16-bit (or 32-bit integer) greyscale: scale 0..65535 onto 0..255, rounding, never clipping."""
    raw = np.asarray(im)
    values = np.clip(raw, 0, 65535).astype(np.uint32)
    grey = ((values * 255 + 32767) // 65535).astype(np.uint8)
    key = im.info.get("transparency")
    if isinstance(key, int) and not isinstance(key, bool):
        grey[raw == key] = 255  # the transparent grey level is shown as white
    return _grey_to_rgb(grey)


def _float_to_rgb(im: Image.Image) -> np.ndarray:
    """Floating-point greyscale: same rule as Pillow's own conversion (clip to 0..255, round)."""
    raw = np.asarray(im, dtype=np.float32)
    raw = np.nan_to_num(raw, nan=0.0, posinf=255.0, neginf=0.0)
    grey = np.rint(np.clip(raw, 0.0, 255.0)).astype(np.uint8)
    return _grey_to_rgb(grey)


def _to_rgb_array(im: Image.Image) -> np.ndarray:
    """Any Pillow mode → (H, W, 3) uint8 RGB; anything transparent is painted over white."""
    if im.mode in _HIGH_DEPTH_GREY:
        return _high_depth_to_rgb(im)
    if im.mode == "F":
        return _float_to_rgb(im)
    if im.has_transparency_data:
        rgba = im if im.mode == "RGBA" else im.convert("RGBA")
        rgb = Image.new("RGB", rgba.size, (255, 255, 255))
        rgb.paste(rgba, (0, 0), rgba)  # the alpha channel is the mask
    elif im.mode == "RGB":
        rgb = im
    else:
        rgb = im.convert("RGB")
    arr = np.array(rgb, dtype=np.uint8)  # a writable copy
    return np.ascontiguousarray(arr)


# --------------------------------------------------------------------------------------------------
# Public API.


def probe(data: bytes) -> tuple[str, int, int]:
    """Return ``(format, width, height)`` read from the header only; no pixels are decoded.

    ``format`` is one of :data:`ALLOWED_FORMATS`. Width and height are as stored in the file (before
    any EXIF rotation). Raises :class:`ImageError` for everything that can be judged from the header:
    not bytes, empty, not a picture, a format we do not accept, too small, too large.
    """
    im, fmt, width, height = _open_checked(_as_bytes(data))
    im.close()
    return fmt, width, height


def decode(data: bytes) -> np.ndarray:
    """Decode an uploaded picture into an ``(H, W, 3)`` ``uint8`` RGB array (C-contiguous, writable).

    Only the first frame of an animated GIF or WebP is used. EXIF orientation is applied, and
    transparent parts are painted over white. Raises :class:`ImageError`, with a message meant for
    the person who uploaded the file, when the data cannot be used.
    """
    im, _fmt, _width, _height = _open_checked(_as_bytes(data))
    try:
        _load_pixels(im)
        _check_size(*im.size)  # a reader may only learn the true size while loading
        _apply_orientation(im)
        try:
            arr = _to_rgb_array(im)
        except (MemoryError, ImageError):
            raise
        except Exception as exc:
            raise ImageError(_msg_unusual_colours()) from exc
    finally:
        im.close()
    if arr.ndim != 3 or arr.shape[2] != 3 or arr.dtype != np.uint8:  # defensive
        raise ImageError(_msg_unusual_colours())
    return arr


def describe_limits() -> str:
    """One plain sentence saying which pictures are accepted, for help text in the UI."""
    return (
        f"You can upload a {_accepted_list()} picture (for animations only the first frame is used) "
        f"that is at least {MIN_SIDE} × {MIN_SIDE} pixels and at most {MAX_SIDE:,} pixels on a side "
        f"and {_megapixels()} megapixels in all."
    )
