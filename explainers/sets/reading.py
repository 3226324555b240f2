"""Read a set of pictures safely: from a folder, a ``.zip`` or a list of uploaded files.

Everything a set brings is untrusted. Nothing is ever extracted to disk: members are read into memory
one by one, after the whole archive has been judged from its directory (member count, declared
uncompressed size, names). A member whose name climbs out of the set (``../``), is absolute, is a
symlink, is encrypted or is not a picture is refused by name with the reason, and the rest go on. Every
picture goes through the same decoder as a single upload (``explainers.images.decode``); only its bytes
and size are kept, so a set costs its file size in memory, not its pixels. Given a ``store`` (the service's
picture store), each picture is handed to it as soon as it is read and only its key is kept, so reading a
set holds one picture at a time however many it has.

Optional files beside the pictures: ``labels.csv`` (file, class by name or number), ``boxes.csv`` (file,
x0, y0, x1, y1 in the picture's pixels) and ``masks/<picture name>.png`` (non-zero = the object). They
are parsed here; classes are checked against a model's labels in ``explainers.sets.regions``.
"""

from __future__ import annotations

import csv
import io
import os
import stat
import zipfile
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from pathlib import Path, PurePosixPath
from typing import IO

from explainers.errors import ExplainerError, ImageError
from explainers.images import decode

MAX_PICTURES = 500
MAX_BYTES = 200 * 1024 * 1024
CSV_MAX_BYTES = 2 * 1024 * 1024
PICTURE_SUFFIXES = (".jpg", ".jpeg", ".png", ".webp", ".gif")
SPECIAL_FILES = ("labels.csv", "boxes.csv")
MASKS_FOLDER = "masks"


class SetError(ExplainerError):
    """The set as a whole cannot be read (too many members, too large, not a zip): nothing was read."""


@dataclass(frozen=True)
class SetLimits:
    """How much one set may hold; ``SetLimits.from_env()`` reads ``EXPLAINER_SET_MAX_PICTURES`` and
    ``EXPLAINER_SET_MAX_MB``."""

    max_pictures: int = MAX_PICTURES
    max_bytes: int = MAX_BYTES

    @property
    def max_members(self) -> int:
        """Entries an archive may list at all: a picture and its mask each, the two CSV files, folders."""
        return 2 * self.max_pictures + 64

    @classmethod
    def from_env(cls) -> SetLimits:
        def number(name: str, default: int) -> int:
            try:
                return max(1, int(os.environ.get(name, default)))
            except ValueError:
                return default

        return cls(number("EXPLAINER_SET_MAX_PICTURES", MAX_PICTURES), number("EXPLAINER_SET_MAX_MB", 200) << 20)


@dataclass(frozen=True)
class Problem:
    """One entry of the set that was left out, and why, in plain words."""

    entry: str
    reason: str

    def __str__(self) -> str:
        return f"{self.entry}: {self.reason}"


@dataclass
class SetPicture:
    """One readable picture: its name in the set (a relative path), its file's bytes and its size; read with
    a ``store``, its key there instead (and no bytes)."""

    name: str
    data: bytes = field(repr=False)
    width: int
    height: int
    key: str | None = None


@dataclass
class PictureSet:
    """The pictures of a set in reading order, the raw rows of its CSV files and masks, and the problems."""

    pictures: list[SetPicture]
    problems: list[Problem]
    labels_rows: list[list[str]] | None = None
    boxes_rows: list[list[str]] | None = None
    masks: dict[str, bytes] = field(default_factory=dict, repr=False)  # picture stem -> PNG bytes

    def __len__(self) -> int:
        return len(self.pictures)


def display_name(name: str | bytes) -> str:
    """A name safe to show and to write in a CSV: undecodable bytes and control characters replaced."""
    if isinstance(name, bytes):
        name = name.decode("utf-8", "replace")
    name = name.encode("utf-8", "surrogateescape").decode("utf-8", "replace")
    return "".join(ch if ch.isprintable() else "\ufffd" for ch in name)


def _unsafe_name(name: str) -> str | None:
    """Why a member name must not be used, or None. Names are never used as paths, but a set that
    tries to climb out or reach absolute paths is refused by name so its maker learns of it."""
    if name.startswith(("/", "\\")) or (len(name) > 1 and name[1] == ":"):
        return "its name is an absolute path; only names inside the set are read"
    if ".." in name.replace("\\", "/").split("/"):
        return "its name points outside the set (..); only names inside the set are read"
    if "\x00" in name:
        return "its name holds a NUL character"
    return None


def _zip_name(info: zipfile.ZipInfo) -> str:
    """The member's name: UTF-8 if the archive says so (zipfile decoded it), else the raw bytes tried as
    UTF-8 (many tools write UTF-8 without the flag), else as zipfile read them (code page 437)."""
    if info.flag_bits & 0x800:
        return info.filename
    try:
        return info.filename.encode("cp437").decode("utf-8")
    except (UnicodeEncodeError, UnicodeDecodeError):
        return info.filename


def _is_symlink(info: zipfile.ZipInfo) -> bool:
    return stat.S_ISLNK(info.external_attr >> 16)


def _strip_top_folder(names: list[str]) -> str:
    """The one folder every member sits in ("myset/"), which a zipped folder has, else ""."""
    tops = {name.split("/", 1)[0] for name in names}
    if len(tops) == 1 and all("/" in name for name in names):
        return tops.pop() + "/"
    return ""


def _ignored(name: str) -> bool:
    """Files that systems add to archives and that are no part of the set."""
    parts = name.split("/")
    return parts[0] == "__MACOSX" or parts[-1].startswith(".") or parts[-1] in {"Thumbs.db", "desktop.ini"}


PictureStore = Callable[[bytes], str]  # keeps a picture's bytes, returns its key (ImageError if unusable)


class _Collector:
    """Sorts named files into pictures, masks and CSV files, within the limits."""

    def __init__(self, limits: SetLimits, store: PictureStore | None = None):
        self.limits = limits
        self.store = store
        self.result = PictureSet([], [])
        self.pictures_seen = 0

    def problem(self, entry: str, reason: str) -> None:
        self.result.problems.append(Problem(display_name(entry), reason))

    def add(self, name: str, data: bytes) -> None:
        lower = name.lower()
        parts = name.split("/")
        if lower in SPECIAL_FILES:
            self._csv(name, data)
        elif len(parts) == 2 and parts[0].lower() == MASKS_FOLDER:
            if not lower.endswith(".png"):
                self.problem(name, "masks must be PNG pictures")
            else:
                self.result.masks[PurePosixPath(parts[1]).stem] = data
        elif lower.endswith(PICTURE_SUFFIXES):
            self._picture(name, data)
        else:
            self.problem(name, "not a picture (JPEG, PNG, WebP or GIF), labels.csv, boxes.csv or a mask")

    def _picture(self, name: str, data: bytes) -> None:
        self.pictures_seen += 1
        if self.pictures_seen > self.limits.max_pictures:
            self.problem(name, f"the set already has {self.limits.max_pictures} pictures, the most one set may hold")
            return
        try:
            height, width = decode(data).shape[:2]
            key = None if self.store is None else self.store(data)
        except ImageError as error:
            self.problem(name, str(error))
            return
        kept = data if key is None else b""  # a stored picture's bytes are dropped here
        self.result.pictures.append(SetPicture(display_name(name), kept, int(width), int(height), key))

    def _csv(self, name: str, data: bytes) -> None:
        if len(data) > CSV_MAX_BYTES:
            self.problem(name, f"larger than {CSV_MAX_BYTES >> 20} MB; a list of labels or boxes is far smaller")
            return
        try:
            text = data.decode("utf-8-sig")
        except UnicodeDecodeError:
            self.problem(name, "not UTF-8 text; save it as CSV (UTF-8) from your spreadsheet")
            return
        rows = [row for row in csv.reader(io.StringIO(text)) if any(cell.strip() for cell in row)]
        if name.lower() == "labels.csv":
            self.result.labels_rows = rows
        else:
            self.result.boxes_rows = rows


def _check_total(count: int, total: int, limits: SetLimits, what: str) -> None:
    if count > limits.max_members:
        raise SetError(
            f"The {what} holds {count:,} entries; a set may hold at most {limits.max_pictures} pictures "
            f"({limits.max_members:,} entries with masks). Split it into smaller sets."
        )
    if total > limits.max_bytes:
        raise SetError(
            f"The {what} unpacks to {total / 2**20:,.0f} MB; a set may hold at most "
            f"{limits.max_bytes / 2**20:,.0f} MB. Split it into smaller sets or make the pictures smaller."
        )


def read_zip(
    source: str | Path | bytes | IO[bytes], limits: SetLimits | None = None, store: PictureStore | None = None
) -> PictureSet:
    """The pictures of a zip archive (a path, its bytes or an open file). Raises ``SetError`` if the archive as a
    whole is refused (not a zip, too many entries, too large unpacked); single bad members are listed
    in ``problems``. With ``store``, each picture is stored as it is read and only its key kept."""
    limits = limits or SetLimits()
    handle = io.BytesIO(source) if isinstance(source, bytes) else source
    try:
        archive = zipfile.ZipFile(handle)
    except (zipfile.BadZipFile, OSError, ValueError) as error:
        raise SetError(f"This file is not a zip archive we can read ({error}). Make a .zip of the pictures.") from None
    with archive:
        infos = archive.infolist()
        files = [info for info in infos if not info.is_dir()]
        _check_total(len(infos), sum(max(0, info.file_size) for info in files), limits, "zip")
        collector = _Collector(limits, store)
        usable: list[tuple[zipfile.ZipInfo, str]] = []
        for info in files:
            name = _zip_name(info)
            reason = _unsafe_name(name)
            if reason is None and _is_symlink(info):
                reason = "it is a symbolic link; only plain files are read"
            if reason is None and info.flag_bits & 0x1:
                reason = "it is encrypted; zip the pictures without a password"
            if reason:
                collector.problem(name, reason)
            else:
                usable.append((info, name.replace("\\", "/")))
        top = _strip_top_folder([name for _, name in usable if not name.startswith("__MACOSX/")])
        budget = limits.max_bytes
        for info, name in usable:
            name = name[len(top) :] if name.startswith(top) else name
            if _ignored(name):
                continue
            try:
                with archive.open(info) as member:
                    data = member.read(min(info.file_size, budget) + 1)
            except (zipfile.BadZipFile, OSError, ValueError, NotImplementedError, EOFError) as error:
                collector.problem(name, f"it cannot be unpacked ({error})")
                continue
            if len(data) > info.file_size:  # it unpacks to more than it declared: a forged size
                collector.problem(name, "it unpacks to more than the archive declares; the archive may be forged")
                continue
            budget -= len(data)
            collector.add(name, data)
    return collector.result


def read_folder(folder: str | Path, limits: SetLimits | None = None, store: PictureStore | None = None) -> PictureSet:
    """The pictures of a folder and its subfolders. Symbolic links are listed as problems, never followed."""
    limits = limits or SetLimits()
    root = Path(folder)
    if not root.is_dir():
        raise SetError(f"There is no folder at {str(root)!r}.")
    entries: list[tuple[str, os.DirEntry | None, str | None]] = []
    total = 0
    stack = [(root, "")]
    while stack:
        here, prefix = stack.pop()
        with os.scandir(here) as listing:
            for entry in sorted(listing, key=lambda e: e.name):
                name = prefix + display_name(os.fsdecode(entry.name) if isinstance(entry.name, bytes) else entry.name)
                if entry.is_symlink():
                    entries.append((name, None, "it is a symbolic link; only plain files are read"))
                elif entry.is_dir(follow_symlinks=False):
                    stack.append((Path(entry.path), name + "/"))
                elif entry.is_file(follow_symlinks=False):
                    entries.append((name, entry, None))
                    total += entry.stat(follow_symlinks=False).st_size
                if len(entries) > limits.max_members:
                    break
    _check_total(len(entries), total, limits, "folder")
    collector = _Collector(limits, store)
    for name, entry, reason in sorted(entries, key=lambda e: e[0]):
        if reason or entry is None or _ignored(name):
            if reason:
                collector.problem(name, reason)
            continue
        try:
            descriptor = os.open(entry.path, os.O_RDONLY | getattr(os, "O_NOFOLLOW", 0))
            with os.fdopen(descriptor, "rb") as handle:
                data = handle.read(min(os.fstat(descriptor).st_size, limits.max_bytes) + 1)  # no larger buffer
        except OSError as error:
            collector.problem(name, f"it cannot be read ({error.strerror or error})")
            continue
        collector.add(name, data)
    return collector.result


def _upload_size(data: bytes | IO[bytes]) -> int:
    """An uploaded file's size in bytes, without reading it (an open file is seekable: the form parser's)."""
    if isinstance(data, bytes):
        return len(data)
    size = data.seek(0, io.SEEK_END)
    data.seek(0)
    return size


def read_files(
    files: Iterable[tuple[str, bytes | IO[bytes]]], limits: SetLimits | None = None, store: PictureStore | None = None
) -> PictureSet:
    """A set from uploaded files (name, bytes or an open, seekable file): one ``.zip`` is read as an archive,
    else each file by its name (its folders dropped), as in a folder. Open files are read one at a time,
    after their total size is checked; with ``store``, each picture is stored as it is read."""
    limits = limits or SetLimits()
    files = list(files)
    if len(files) == 1 and files[0][0].lower().endswith(".zip"):
        return read_zip(files[0][1], limits, store)
    _check_total(len(files), sum(_upload_size(data) for _, data in files), limits, "upload")
    collector = _Collector(limits, store)
    for name, data in files:
        name = display_name(str(name).replace("\\", "/").rsplit("/", 1)[-1])
        if not _ignored(name):
            collector.add(
                name, data if isinstance(data, bytes) else data.read(min(_upload_size(data), limits.max_bytes) + 1)
            )
    return collector.result


def read_set(source: str | Path, limits: SetLimits | None = None, store: PictureStore | None = None) -> PictureSet:
    """A folder or a ``.zip`` file, by its path."""
    path = Path(source)
    if path.is_dir():
        return read_folder(path, limits, store)
    if not path.is_file():
        raise SetError(f"There is no folder or .zip file at {str(path)!r}.")
    if path.stat().st_size > (limits or SetLimits()).max_bytes:
        raise SetError(f"{path.name} is larger than a set may be ({(limits or SetLimits()).max_bytes >> 20} MB).")
    return read_zip(path, limits, store)
