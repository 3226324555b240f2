"""Reading a set safely (explainers/sets/reading.py, regions.py): every bad input of issue 25 gets a plain
message naming the entry, the good entries go on, and nothing is ever written to disk."""

from __future__ import annotations

import io
import os
import stat
import zipfile

import numpy as np
import pytest

from explainers.labels import Labels
from explainers.render import encode_png
from explainers.sets import SetError, SetLimits, match_truth, read_files, read_folder, read_set, read_zip
from tests.helpers import png_bytes

LABELS = Labels.from_names(["circle", "square", "triangle"])


def _zip(members: dict[str, bytes], infos: list[tuple[zipfile.ZipInfo, bytes]] = ()) -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as archive:
        for name, data in members.items():
            archive.writestr(name, data)
        for info, data in infos:
            archive.writestr(info, data)
    return buffer.getvalue()


def _reasons(picture_set) -> dict[str, str]:
    return {problem.entry: problem.reason for problem in picture_set.problems}


@pytest.fixture
def no_writes(tmp_path, monkeypatch):
    """Run in an empty folder and check afterwards that nothing appeared in it or beside it."""
    work = tmp_path / "work"
    work.mkdir()
    monkeypatch.chdir(work)
    before = sorted(os.listdir(tmp_path))
    yield work
    assert os.listdir(work) == []
    assert sorted(os.listdir(tmp_path)) == before


def test_good_members_are_read_and_traversal_absolute_and_symlink_are_refused_by_name(no_writes):
    link = zipfile.ZipInfo("link.png")
    link.external_attr = (stat.S_IFLNK | 0o777) << 16
    data = _zip(
        {"good.png": png_bytes(), "../evil.png": png_bytes(seed=1), "/etc/evil.png": png_bytes(seed=2)},
        [(link, b"/etc/passwd")],
    )
    picture_set = read_zip(data)
    assert [p.name for p in picture_set.pictures] == ["good.png"]
    reasons = _reasons(picture_set)
    assert "outside the set" in reasons["../evil.png"]
    assert "absolute path" in reasons["/etc/evil.png"]
    assert "symbolic link" in reasons["link.png"]


def test_a_zip_bomb_is_refused_from_its_directory_before_anything_is_unpacked(no_writes):
    bomb = _zip({"big.png": b"\0" * (3 << 20)})  # 3 MB of zeros compress to a few KB
    assert len(bomb) < 50_000
    with pytest.raises(SetError, match="unpacks to 3 MB.*at most 2 MB"):
        read_zip(bomb, SetLimits(max_bytes=2 << 20))


def test_a_member_that_unpacks_to_more_than_it_declares_is_refused(no_writes):
    data = bytearray(_zip({"a.png": png_bytes(), "forged.png": png_bytes(seed=3)}))
    # lower the declared size of forged.png in the central directory (the local header is left alone)
    directory = data.rfind(b"PK\x01\x02" + bytes(data[data.rfind(b"PK\x01\x02") + 4 : data.rfind(b"PK\x01\x02") + 6]))
    assert directory > 0
    import struct

    size_at = directory + 24
    (size,) = struct.unpack("<I", data[size_at : size_at + 4])
    data[size_at : size_at + 4] = struct.pack("<I", size // 2)
    picture_set = read_zip(bytes(data))
    assert [p.name for p in picture_set.pictures] == ["a.png"]
    assert "forged.png" in _reasons(picture_set)


def test_ten_thousand_tiny_files_are_refused_with_the_count(no_writes):
    data = _zip({f"f{i}.png": b"x" for i in range(10_000)})
    with pytest.raises(SetError, match="10,000 entries"):
        read_zip(data)


def test_more_pictures_than_the_limit_keep_the_first_and_name_the_rest():
    data = _zip({f"p{i}.png": png_bytes(seed=i) for i in range(4)})
    picture_set = read_zip(data, SetLimits(max_pictures=3))
    assert len(picture_set) == 3
    assert "at most" not in str(picture_set.problems) and "p3.png" in _reasons(picture_set)


def test_non_utf8_names_are_shown_readably(no_writes):
    info = zipfile.ZipInfo("caf\xe9.png")  # written with the UTF-8 flag by zipfile: decode as UTF-8
    raw = zipfile.ZipInfo("x.png")
    data = bytearray(_zip({}, [(info, png_bytes()), (raw, png_bytes(seed=1))]))
    # turn x.png's name into invalid UTF-8 bytes (0xff) in both headers
    data = bytes(data).replace(b"x.png", b"\xff.png")
    picture_set = read_zip(data)
    names = sorted(p.name for p in picture_set.pictures)
    assert "café.png" in names and len(names) == 2
    assert all(name.isprintable() for name in names)


def test_a_damaged_picture_and_a_stranger_file_are_named_and_the_rest_go_on(no_writes):
    picture_set = read_zip(_zip({"ok.png": png_bytes(), "cut.png": png_bytes()[:60], "notes.txt": b"hi"}))
    assert [p.name for p in picture_set.pictures] == ["ok.png"]
    reasons = _reasons(picture_set)
    assert "damaged" in reasons["cut.png"] and "not a picture" in reasons["notes.txt"]


def test_a_zipped_folder_loses_its_top_folder_and_system_files_are_ignored():
    picture_set = read_zip(
        _zip({"myset/a.png": png_bytes(), "__MACOSX/myset/._a.png": b"junk", "myset/.DS_Store": b""})
    )
    assert [p.name for p in picture_set.pictures] == ["a.png"] and picture_set.problems == []


def test_labels_naming_missing_files_or_unknown_classes_are_named():
    data = _zip(
        {
            "a.png": png_bytes(),
            "b.png": png_bytes(seed=1),
            "labels.csv": b"file,label\na.png,square\nb.png,2\nghost.png,circle\nb.png,dodecagon\n",
        }
    )
    truth = match_truth(read_zip(data), LABELS)
    assert truth.labels == {"a.png": 1, "b.png": 2}
    reasons = _reasons(truth)
    assert "ghost.png" in reasons["labels.csv, row 3"]
    assert "dodecagon" in reasons["labels.csv, row 4"]


def test_boxes_outside_the_picture_and_masks_of_the_wrong_size_are_named():
    mask = encode_png(np.full((40, 40, 3), 255, np.uint8))
    data = _zip(
        {
            "a.png": png_bytes(64, 48),
            "b.png": png_bytes(64, 48, seed=1),
            "boxes.csv": b"file,x0,y0,x1,y1\na.png,10,10,30,30\nb.png,10,10,90,30\n",
            "masks/a.png": mask,
        }
    )
    truth = match_truth(read_zip(data), LABELS)
    assert list(truth.boxes) == ["a.png"] and truth.masks == {}
    reasons = _reasons(truth)
    assert "outside the 64×48 picture" in reasons["boxes.csv, row 2"]
    assert "40×40" in reasons["masks/a.png"] and "64×48" in reasons["masks/a.png"]
    region = truth.region(read_zip(data).pictures[0])
    assert region.shape == (48, 64) and region.sum() == 400


def test_a_folder_reads_subfolders_and_never_follows_symlinks(tmp_path):
    folder = tmp_path / "set"
    (folder / "cats").mkdir(parents=True)
    (folder / "cats" / "a.png").write_bytes(png_bytes())
    (tmp_path / "secret.png").write_bytes(png_bytes(seed=1))
    (folder / "link.png").symlink_to(tmp_path / "secret.png")
    picture_set = read_folder(folder)
    assert [p.name for p in picture_set.pictures] == ["cats/a.png"]
    assert "symbolic link" in _reasons(picture_set)["link.png"]
    assert read_set(folder).pictures[0].name == "cats/a.png"


def test_a_file_that_is_no_zip_and_a_missing_path_get_plain_messages(tmp_path):
    with pytest.raises(SetError, match="not a zip archive"):
        read_zip(b"hello")
    with pytest.raises(SetError, match="no folder or .zip"):
        read_set(tmp_path / "missing")


def test_uploaded_files_are_read_by_name_and_one_zip_as_an_archive():
    picture_set = read_files([("x/../a.png", png_bytes()), ("b.png", png_bytes(seed=1))])
    assert [p.name for p in picture_set.pictures] == ["a.png", "b.png"]
    zipped = read_files([("set.zip", _zip({"c.png": png_bytes()}))])
    assert [p.name for p in zipped.pictures] == ["c.png"]


def test_limits_come_from_the_environment(monkeypatch):
    monkeypatch.setenv("EXPLAINER_SET_MAX_PICTURES", "7")
    monkeypatch.setenv("EXPLAINER_SET_MAX_MB", "3")
    assert SetLimits.from_env() == SetLimits(7, 3 << 20)
