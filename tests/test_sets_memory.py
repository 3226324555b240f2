"""Taking a set in holds one picture at a time (issue 25, item 6): each picture goes from the zip or the
uploaded files to the picture store and is dropped, so the peak memory while a set is read and stored does
not grow with the number of pictures. Pictures of noise do not compress, so a set's bytes are its size."""

from __future__ import annotations

import io
import tracemalloc
import zipfile

import numpy as np
import pytest

from explainers.render import encode_png
from explainers.sets import read_files
from service import ExplainerService
from service.sets import SetRuns
from service.store import ImageStore

SIDE = 320  # a noise picture of this side is about 300 KB as a PNG, as large decoded


def _noise_pngs(count: int) -> list[bytes]:
    rng = np.random.default_rng(count)
    return [encode_png(rng.integers(0, 256, (SIDE, SIDE, 3), dtype=np.uint8)) for _ in range(count)]


def _zip_file(folder, pictures: list[bytes]):
    path = folder / f"set_{len(pictures)}.zip"
    with zipfile.ZipFile(path, "w", zipfile.ZIP_STORED) as archive:
        for number, data in enumerate(pictures):
            archive.writestr(f"picture_{number:02d}.png", data)
    return path


def _peak(take_in) -> int:
    tracemalloc.start()
    try:
        take_in()
        return tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()


def test_a_spy_store_gets_each_picture_as_it_is_read_and_only_keys_are_kept():
    pictures = _noise_pngs(3)
    stored: list[int] = []

    def store(data: bytes) -> str:
        stored.append(len(data))
        return f"key{len(stored)}"

    files = [(f"p{number}.png", io.BytesIO(data)) for number, data in enumerate(pictures)]
    picture_set = read_files([*files, ("notes.txt", io.BytesIO(b"hello"))], store=store)
    assert stored == [len(data) for data in pictures]
    assert [(p.name, p.key, p.data, p.width) for p in picture_set.pictures] == [
        (f"p{number}.png", f"key{number + 1}", b"", SIDE) for number in range(3)
    ]
    assert [problem.entry for problem in picture_set.problems] == ["notes.txt"]  # the same checks as before


@pytest.mark.parametrize("as_zip", [True, False], ids=["zip", "loose files"])
def test_taking_a_set_in_peaks_at_a_few_pictures_whatever_its_size(tmp_path, monkeypatch, as_zip):
    svc = ExplainerService(tmp_path / "data", images=ImageStore(tmp_path / "images", memory_items=1))
    monkeypatch.setattr(SetRuns, "_submit", lambda self, record: None)  # the intake only, no computing
    picture_bytes = len(_noise_pngs(1)[0])
    peaks = {}
    for count in (4, 16):
        pictures = _noise_pngs(count)
        path = _zip_file(tmp_path, pictures)
        svc.sets.start([(path.name, path.open("rb"))], "shapes")  # warm up: the model's facts are loaded
        if as_zip:
            files = [(path.name, path.open("rb"))]
        else:
            for number, data in enumerate(pictures):
                (tmp_path / f"{count}_{number}.png").write_bytes(data)
            files = [(f"{number}.png", (tmp_path / f"{count}_{number}.png").open("rb")) for number in range(count)]
        del pictures
        peaks[count] = _peak(lambda: svc.sets.start(files, "shapes"))
    # held whole, 16 pictures would peak at about 4 × the peak of 4 (and at over 16 pictures' bytes)
    assert peaks[16] < 1.5 * peaks[4], peaks
    assert peaks[16] < 8 * picture_bytes, (peaks, picture_bytes)
