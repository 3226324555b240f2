"""Tests for explainers.images: every picture is made here with Pillow/numpy; no files are committed."""

from __future__ import annotations

import io
import struct
import threading
import time
import tracemalloc
import warnings
import zlib

import numpy as np
import pytest
from PIL import GifImagePlugin, Image, ImageFile

from explainers import images
from explainers.errors import ExplainerError, ImageError
from explainers.images import (
    ALLOWED_FORMATS,
    MAX_PIXELS,
    MAX_SIDE,
    MIN_SIDE,
    decode,
    describe_limits,
    probe,
)

RED = (255, 0, 0)
GREEN = (0, 255, 0)
BLUE = (0, 0, 255)
WHITE = (255, 255, 255)

# Words that would betray a programmer's message leaking to the person uploading.
JARGON = (
    "Traceback",
    "Error",
    "Exception",
    "PIL",
    "Pillow",
    "bytes",
    "None",
    "errno",
    "identify",
    "struct",
    "0x",
    "cannot identify",
    "decompression bomb",
    "OSError",
)


# ---------------------------------------------------------------------------------------------
# Helpers that make test pictures.


def save(im: Image.Image, fmt: str, **kwargs) -> bytes:
    buf = io.BytesIO()
    im.save(buf, fmt, **kwargs)
    return buf.getvalue()


def solid(colour, size=(64, 48), mode="RGB") -> Image.Image:
    return Image.new(mode, size, colour)


def noisy_rgb(size=(96, 64), seed=0) -> Image.Image:
    rng = np.random.default_rng(seed)
    return Image.fromarray(rng.integers(0, 256, (size[1], size[0], 3), dtype=np.uint8))


def png_chunk(kind: bytes, payload: bytes) -> bytes:
    crc = zlib.crc32(kind + payload) & 0xFFFFFFFF
    return struct.pack(">I", len(payload)) + kind + payload + struct.pack(">I", crc)


def handmade_png_header(width: int, height: int) -> bytes:
    """A tiny, well-formed PNG whose IHDR claims width × height RGB pixels (the data is a stub)."""
    ihdr = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)
    idat = zlib.compress(b"\x00" * 64)
    return b"\x89PNG\r\n\x1a\n" + png_chunk(b"IHDR", ihdr) + png_chunk(b"IDAT", idat) + png_chunk(b"IEND", b"")


def animated_gif(colours, size=(48, 40)) -> bytes:
    frames = [Image.new("RGB", size, c) for c in colours]
    return save(frames[0], "GIF", save_all=True, append_images=frames[1:], duration=20, loop=0)


def psd_like_header(width=64, height=48) -> bytes:
    """The fixed 26-byte Photoshop header (RGB, 8 bits) plus empty sections and raw pixel data."""
    header = b"8BPS" + struct.pack(">H6xHIIHH", 1, 3, height, width, 8, 3)
    sections = struct.pack(">III", 0, 0, 0)  # colour mode data, image resources, layers: all empty
    pixels = struct.pack(">H", 0) + bytes(3 * width * height)  # raw, uncompressed
    return header + sections + pixels


def assert_rgb_array(arr) -> None:
    assert isinstance(arr, np.ndarray)
    assert arr.ndim == 3 and arr.shape[2] == 3
    assert arr.dtype == np.uint8
    assert arr.flags["C_CONTIGUOUS"]
    assert arr.flags["WRITEABLE"]


def assert_close(pixel, expected, tol=0) -> None:
    got = np.asarray(pixel, dtype=int)
    want = np.asarray(expected, dtype=int)
    assert np.all(np.abs(got - want) <= tol), f"got {tuple(got)}, expected {tuple(want)} ± {tol}"


def assert_plain(message: str) -> None:
    assert message.strip(), "message is empty"
    for word in JARGON:
        assert word not in message, f"{word!r} in message: {message}"
    assert "\n" not in message


def refused(data) -> str:
    with pytest.raises(ImageError) as info:
        decode(data)
    message = str(info.value)
    assert_plain(message)
    return message


@pytest.fixture
def pixel_loads(monkeypatch) -> list[object]:
    """Records every pixel load Pillow performs (ImageFile.load) while the test runs."""
    calls: list[object] = []
    original = ImageFile.ImageFile.load

    def spy(self):
        calls.append(self)
        return original(self)

    monkeypatch.setattr(ImageFile.ImageFile, "load", spy)
    return calls


# ---------------------------------------------------------------------------------------------
# Constants and the error type.


def test_constants():
    assert ALLOWED_FORMATS == ("JPEG", "PNG", "WEBP", "GIF")
    assert (MIN_SIDE, MAX_SIDE, MAX_PIXELS) == (32, 10_000, 50_000_000)


def test_image_error_is_a_value_error():
    assert issubclass(ImageError, ExplainerError)
    assert issubclass(ImageError, ValueError)
    with pytest.raises(ValueError):
        decode(b"")


def test_describe_limits_is_one_plain_sentence():
    text = describe_limits()
    for part in ("JPEG", "PNG", "WebP", "GIF", "32 × 32", "10,000", "50 megapixels"):
        assert part in text
    assert text.endswith(".") and text.count(". ") == 0
    assert_plain(text)


# ---------------------------------------------------------------------------------------------
# Accepted formats.


@pytest.mark.parametrize(
    ("fmt", "kwargs", "tol"),
    [
        ("PNG", {}, 0),
        ("JPEG", {"quality": 95}, 4),
        ("WEBP", {"lossless": True}, 0),
        ("WEBP", {"quality": 90}, 8),
        ("GIF", {}, 0),
    ],
)
def test_accepted_formats_give_the_right_colour(fmt, kwargs, tol):
    data = save(solid((200, 40, 90) if fmt != "GIF" else BLUE, size=(70, 50)), fmt, **kwargs)
    arr = decode(data)
    assert_rgb_array(arr)
    assert arr.shape == (50, 70, 3)
    assert_close(arr[25, 35], (200, 40, 90) if fmt != "GIF" else BLUE, tol)
    assert_close(arr.mean(axis=(0, 1)), (200, 40, 90) if fmt != "GIF" else BLUE, tol)


def test_png_pixels_are_exact():
    im = noisy_rgb()
    arr = decode(save(im, "PNG"))
    assert np.array_equal(arr, np.asarray(im))


@pytest.mark.parametrize("kind", [bytes, bytearray, memoryview])
def test_bytes_like_inputs(kind):
    arr = decode(kind(save(solid(GREEN), "PNG")))
    assert arr.shape == (48, 64, 3)
    assert_close(arr[0, 0], GREEN)


def test_result_is_independent_of_pillow():
    arr = decode(save(solid(GREEN), "PNG"))
    arr[0, 0] = (1, 2, 3)  # writable, and writing does not fail
    assert tuple(arr[0, 0]) == (1, 2, 3)


# ---------------------------------------------------------------------------------------------
# Colour modes.


def test_greyscale_l():
    arr = decode(save(solid(200, mode="L"), "PNG"))
    assert_rgb_array(arr)
    assert_close(arr[10, 10], (200, 200, 200))


def test_greyscale_with_alpha_la():
    im = Image.new("LA", (64, 48), (100, 255))
    im.paste((30, 0), (0, 0, 32, 48))  # left half fully transparent
    arr = decode(save(im, "PNG"))
    assert_rgb_array(arr)
    assert_close(arr[20, 5], WHITE)
    assert_close(arr[20, 50], (100, 100, 100))


def test_palette_p():
    im = Image.new("P", (64, 48), 1)
    im.putpalette([0, 0, 0, 10, 20, 30, 250, 128, 3] + [0] * (3 * 253))
    im.paste(2, (0, 0, 16, 16))
    arr = decode(save(im, "PNG"))
    assert_rgb_array(arr)
    assert_close(arr[40, 40], (10, 20, 30))
    assert_close(arr[5, 5], (250, 128, 3))


def test_palette_with_transparent_index_becomes_white():
    im = Image.new("P", (64, 48), 1)
    im.putpalette([0, 0, 0, 0, 0, 255] + [0] * (3 * 254))
    im.paste(0, (0, 0, 32, 48))  # index 0 (black in the palette) is the transparent one
    data = save(im, "PNG", transparency=0)
    assert Image.open(io.BytesIO(data)).info.get("transparency") == 0  # the key really is stored
    arr = decode(data)
    assert_rgb_array(arr)
    assert_close(arr[20, 5], WHITE)
    assert_close(arr[20, 50], BLUE)


def test_gif_transparency_becomes_white():
    im = Image.new("P", (64, 48), 1)
    im.putpalette([0, 0, 0, 255, 0, 0] + [0] * (3 * 254))
    im.paste(0, (0, 0, 32, 48))
    arr = decode(save(im, "GIF", transparency=0))
    assert_close(arr[20, 5], WHITE)
    assert_close(arr[20, 50], RED)


def test_rgba_transparent_and_half_transparent():
    im = Image.new("RGBA", (64, 48), (255, 0, 0, 128))
    im.paste((0, 0, 0, 0), (0, 0, 32, 48))
    arr = decode(save(im, "PNG"))
    assert_rgb_array(arr)
    assert_close(arr[20, 5], WHITE)  # fully transparent black must not come out black
    assert_close(arr[20, 50], (255, 128, 128), tol=2)


def test_rgba_webp_is_composited_over_white():
    im = Image.new("RGBA", (64, 48), (0, 0, 255, 255))
    im.paste((0, 0, 0, 0), (0, 0, 32, 48))
    arr = decode(save(im, "WEBP", lossless=True))
    assert_close(arr[20, 5], WHITE)
    assert_close(arr[20, 50], BLUE)


def test_rgb_png_with_colour_key_transparency():
    im = solid(GREEN)
    im.paste(RED, (0, 0, 32, 48))
    arr = decode(save(im, "PNG", transparency=GREEN))
    assert_close(arr[20, 5], RED)
    assert_close(arr[20, 50], WHITE)


def test_bilevel_1():
    im = Image.new("1", (64, 48), 0)
    im.paste(1, (0, 0, 32, 48))
    arr = decode(save(im, "PNG"))
    assert_rgb_array(arr)
    assert_close(arr[20, 5], WHITE)
    assert_close(arr[20, 50], (0, 0, 0))


def test_sixteen_bit_greyscale_is_scaled_not_clipped():
    values = np.zeros((40, 60), dtype=np.uint16)
    values[:, 20:40] = 32768
    values[:, 40:] = 65535
    data = save(Image.fromarray(values), "PNG")
    assert Image.open(io.BytesIO(data)).mode.startswith("I")  # really stored as 16-bit
    arr = decode(data)
    assert_rgb_array(arr)
    assert_close(arr[10, 5], (0, 0, 0))
    assert_close(arr[10, 30], (128, 128, 128), tol=1)
    assert_close(arr[10, 50], WHITE)


def test_cmyk_jpeg():
    data = save(Image.new("CMYK", (64, 48), (0, 255, 255, 0)), "JPEG", quality=95)
    assert Image.open(io.BytesIO(data)).mode == "CMYK"
    arr = decode(data)
    assert_rgb_array(arr)
    assert_close(arr[20, 20], RED, tol=10)


def test_greyscale_jpeg():
    arr = decode(save(solid(90, mode="L"), "JPEG", quality=95))
    assert_close(arr[20, 20], (90, 90, 90), tol=3)


def test_exif_orientation_6_is_applied():
    stored = Image.new("RGB", (40, 80), BLUE)  # 40 wide, 80 tall as stored
    stored.paste(RED, (0, 0, 12, 12))  # mark the stored top-left corner
    exif = Image.Exif()
    exif[0x0112] = 6  # "rotate 90° clockwise to display"
    data = save(stored, "JPEG", quality=95, exif=exif.tobytes())

    assert probe(data) == ("JPEG", 40, 80)  # the header reports the stored size
    arr = decode(data)
    assert_rgb_array(arr)
    assert arr.shape == (40, 80, 3)  # displayed 80 wide, 40 tall
    # A quarter turn clockwise takes the top-left corner to the top-right corner.
    assert_close(arr[4, 75], RED, tol=12)
    assert_close(arr[4, 4], BLUE, tol=12)
    assert_close(arr[35, 75], BLUE, tol=12)


# ---------------------------------------------------------------------------------------------
# Animated pictures: first frame only.


def test_animated_gif_gives_first_frame():
    data = animated_gif([RED, GREEN, BLUE])
    assert Image.open(io.BytesIO(data)).n_frames == 3
    arr = decode(data)
    assert_rgb_array(arr)
    assert np.all(arr == np.array(RED, dtype=np.uint8))


def test_animated_gif_with_500_frames_never_walks_frames(monkeypatch):
    colours = [RED] + [GREEN if i % 2 else BLUE for i in range(499)]
    data = animated_gif(colours, size=(40, 32))
    seeks: list[int] = []
    original = GifImagePlugin.GifImageFile.seek

    def spy(self, frame):
        seeks.append(frame)
        return original(self, frame)

    monkeypatch.setattr(GifImagePlugin.GifImageFile, "seek", spy)
    arr = decode(data)
    assert arr.shape == (32, 40, 3)
    assert np.all(arr == np.array(RED, dtype=np.uint8))
    assert all(frame == 0 for frame in seeks), seeks


def test_animated_webp_gives_first_frame():
    frames = [Image.new("RGB", (48, 40), c) for c in (RED, GREEN, BLUE)]
    data = save(frames[0], "WEBP", save_all=True, append_images=frames[1:], lossless=True)
    arr = decode(data)
    assert np.all(arr == np.array(RED, dtype=np.uint8))


# ---------------------------------------------------------------------------------------------
# probe


def test_probe_reads_the_header_without_decoding(pixel_loads):
    data = save(noisy_rgb((123, 45)), "PNG")
    assert probe(data) == ("PNG", 123, 45)
    assert pixel_loads == []


@pytest.mark.parametrize(("fmt", "expected"), [("JPEG", "JPEG"), ("WEBP", "WEBP"), ("GIF", "GIF")])
def test_probe_names_the_format(fmt, expected):
    assert probe(save(solid(RED, size=(50, 33)), fmt)) == (expected, 50, 33)


@pytest.mark.parametrize(
    ("data", "phrase"),
    [
        (b"", "empty"),
        (save(solid(RED, size=(20, 20)), "PNG"), "at least 32 × 32"),
        (save(solid(RED), "BMP"), "JPEG, PNG, WebP or GIF"),
    ],
    ids=["empty", "too-small", "bmp"],
)
def test_probe_refuses_like_decode(data, phrase):
    with pytest.raises(ImageError, match=phrase):
        probe(data)


# ---------------------------------------------------------------------------------------------
# Refusals.


def test_empty():
    assert "empty" in refused(b"")
    assert "empty" in refused(bytearray())


def test_random_bytes():
    data = np.random.default_rng(7).integers(0, 256, 4000, dtype=np.uint8).tobytes()
    message = refused(data)
    assert "not a picture we can read" in message
    assert "JPEG, PNG, WebP or GIF" in message


@pytest.mark.parametrize("value", ["picture.png", None, 42, [1, 2, 3], np.zeros((40, 40, 3), np.uint8)])
def test_not_bytes(value):
    message = refused(value)
    assert "JPEG, PNG, WebP or GIF" in message


def test_truncated_jpeg():
    data = save(noisy_rgb((128, 96)), "JPEG", quality=90)
    assert "damaged or incomplete" in refused(data[: len(data) // 2])


def test_truncated_jpeg_refused_even_if_pillow_is_told_to_pad(monkeypatch):
    data = save(noisy_rgb((128, 96)), "JPEG", quality=90)
    half = data[: len(data) // 2]
    monkeypatch.setattr(ImageFile, "LOAD_TRUNCATED_IMAGES", True)
    Image.open(io.BytesIO(half)).load()  # control: with the flag on, Pillow itself pads silently
    assert "damaged or incomplete" in refused(half)
    assert ImageFile.LOAD_TRUNCATED_IMAGES is True  # the caller's setting is put back


def test_truncated_png():
    data = save(noisy_rgb(), "PNG")
    assert "damaged or incomplete" in refused(data[: len(data) * 2 // 3])


def _idat_offset(png: bytes) -> tuple[int, int]:
    at = png.index(b"IDAT")
    (length,) = struct.unpack(">I", png[at - 4 : at])
    return at + 4, length


def test_png_with_flipped_bytes_inside_idat():
    data = bytearray(save(noisy_rgb(), "PNG"))
    start, length = _idat_offset(bytes(data))
    for i in range(start, start + 16):  # wreck the start of the compressed pixel data
        data[i] ^= 0xFF
    assert "damaged or incomplete" in refused(bytes(data))


def test_png_with_broken_header_checksum():
    data = bytearray(save(noisy_rgb(), "PNG"))
    ihdr_crc = 8 + 8 + 13  # signature, IHDR length+type, IHDR body
    data[ihdr_crc] ^= 0xFF
    assert "damaged or incomplete" in refused(bytes(data))


@pytest.mark.parametrize("size", [(1, 1), (31, 100), (100, 31)])
def test_too_small(pixel_loads, size):
    message = refused(save(solid(RED, size=size), "PNG"))
    assert pixel_loads == []
    assert "at least 32 × 32 pixels" in message
    assert f"{size[0]} × {size[1]}" in message


def test_smallest_accepted_size():
    assert decode(save(solid(RED, size=(32, 32)), "PNG")).shape == (32, 32, 3)


def test_decompression_bomb_is_refused_from_the_header(pixel_loads):
    data = handmade_png_header(50_000, 50_000)
    assert len(data) < 1024
    tracemalloc.start()
    started = time.perf_counter()
    try:
        with pytest.raises(ImageError) as info:
            decode(data)
        elapsed = time.perf_counter() - started
        _current, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    message = str(info.value)
    assert_plain(message)
    assert "50000 × 50000 pixels" in message
    assert "10,000 pixels on a side" in message and "50 megapixels" in message
    assert pixel_loads == []  # no pixel was ever decoded
    assert peak < 4 * 1024 * 1024
    assert elapsed < 5.0


def test_pillow_bomb_warning_never_leaks(pixel_loads):
    # 9,000 × 10,000 = 90 MP: above Pillow's warning threshold, below its hard error, above ours.
    data = handmade_png_header(9_000, 10_000)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        message = refused(data)
    assert "9000 × 10000 pixels" in message
    assert not [w for w in caught if issubclass(w.category, Image.DecompressionBombWarning)]
    assert pixel_loads == []


@pytest.mark.parametrize(("width", "height"), [(8_000, 7_000), (10_001, 40), (40, 20_000)])
def test_too_large_is_judged_from_the_header(pixel_loads, width, height):
    message = refused(handmade_png_header(width, height))  # the pixel data is only a stub
    assert f"{width} × {height}" in message
    assert "10,000 pixels on a side and 50 megapixels in all" in message
    assert pixel_loads == []


def test_long_thin_strip_is_refused(pixel_loads):
    data = save(Image.new("L", (1, 100_000), 128), "PNG")
    message = refused(data)
    assert pixel_loads == []
    assert "1 × 100000" in message
    assert "at least 32 × 32" in message and "10,000" in message


def test_one_pixel_too_long():
    message = refused(save(Image.new("L", (10_001, 32), 128), "PNG"))
    assert "10001 × 32" in message and "10,000 pixels on a side" in message
    assert decode(save(Image.new("L", (10_000, 32), 128), "PNG")).shape == (32, 10_000, 3)


def test_svg_with_script_is_refused():
    svg = (
        b'<?xml version="1.0" encoding="UTF-8"?>\n'
        b'<svg xmlns="http://www.w3.org/2000/svg" width="100" height="100">'
        b'<script>alert("hi")</script><rect width="100" height="100" fill="red"/></svg>'
    )
    message = refused(svg)
    assert "not a supported picture" in message and "SVG" in message


@pytest.mark.parametrize(
    ("make", "name"),
    [
        (lambda: save(solid(RED), "TIFF"), "TIFF"),
        (lambda: save(solid(RED), "ICO", sizes=[(48, 48)]), "ICO"),
        (lambda: save(solid(RED), "BMP"), "BMP"),
        (psd_like_header, "PSD"),
    ],
    ids=["tiff", "ico", "bmp", "psd"],
)
def test_other_picture_formats_are_refused(make, name):
    data = make()
    with Image.open(io.BytesIO(data)) as im:  # control: Pillow itself would happily open it
        assert im.format == name
    message = refused(data)
    assert "JPEG, PNG, WebP or GIF" in message
    assert name in message


@pytest.mark.parametrize(
    ("data", "phrase"),
    [
        (b"\x00\x00\x00\x18ftypheic\x00\x00\x00\x00mif1heic" + bytes(64), "HEIC"),
        (b"%PDF-1.7\n%\xe2\xe3\xcf\xd3\n1 0 obj\n", "PDF"),
        (b"name,value\nfoo,1\n", "text"),
        (b"BMW,Audi\n1,2\n", "text"),
    ],
    ids=["heic", "pdf", "csv", "text-starting-with-BM"],
)
def test_other_files_are_named(data, phrase):
    message = refused(data)
    assert phrase in message and "JPEG, PNG, WebP or GIF" in message


# ---------------------------------------------------------------------------------------------
# Nothing from Pillow leaks; MemoryError and KeyboardInterrupt are not swallowed.


@pytest.mark.parametrize(
    "exc",
    [
        OSError("decoder error -2"),
        ValueError("bad"),
        SyntaxError("x"),
        struct.error("y"),
        EOFError(),
        ZeroDivisionError(),
        IndexError(),
        TypeError("z"),
    ],
)
def test_unexpected_exceptions_during_load_become_image_error(monkeypatch, exc):
    def boom(self):
        raise exc

    monkeypatch.setattr(ImageFile.ImageFile, "load", boom)
    assert "damaged" in refused(save(solid(RED), "PNG"))


def test_unexpected_exceptions_during_open_become_image_error(monkeypatch):
    def boom(*args, **kwargs):
        raise EOFError()

    monkeypatch.setattr(images.Image, "open", boom)
    refused(save(solid(RED), "PNG"))


def test_unexpected_exceptions_during_conversion_become_image_error(monkeypatch):
    def boom(self, *args, **kwargs):
        raise ValueError("conversion from CMYK to RGB not supported")

    monkeypatch.setattr(Image.Image, "convert", boom)
    assert "colours" in refused(save(Image.new("CMYK", (64, 48), (0, 255, 255, 0)), "JPEG"))


@pytest.mark.parametrize("exc", [MemoryError, KeyboardInterrupt])
def test_memory_error_and_interrupt_propagate(monkeypatch, exc):
    def boom(self):
        raise exc()

    monkeypatch.setattr(ImageFile.ImageFile, "load", boom)
    with pytest.raises(exc):
        decode(save(solid(RED), "PNG"))


# ---------------------------------------------------------------------------------------------
# Threads.


def test_parallel_decodes_keep_detecting_truncation(monkeypatch):
    good = save(noisy_rgb((256, 192)), "JPEG", quality=90)
    cut = good[: len(good) // 2]
    monkeypatch.setattr(ImageFile, "LOAD_TRUNCATED_IMAGES", True)
    results: dict[int, object] = {}

    def work(i: int) -> None:
        try:
            results[i] = decode(cut if i % 2 else good).shape
        except ImageError as exc:
            results[i] = exc

    threads = [threading.Thread(target=work, args=(i,)) for i in range(16)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    for i in range(16):
        if i % 2:
            assert isinstance(results[i], ImageError)
        else:
            assert results[i] == (192, 256, 3)
    assert ImageFile.LOAD_TRUNCATED_IMAGES is True
