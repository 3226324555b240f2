"""The store of uploaded model files (service.own_models.ModelFiles): one copy by hash, bounded by bytes
with the least recently used out (the picture store's code, service.store.bound_folder), a file being
read never removed meanwhile, and an upload whose file went asks in words to be uploaded again."""

from __future__ import annotations

import io
import os

import pytest

from explainers.errors import ExplainerError
from helpers import png_bytes
from service.own_models import DEFAULT_MODEL_STORE_MB, MODEL_STORE_ENV, ModelFiles


def _keep(files: ModelFiles, fill: bytes, age: int | None = None) -> str:
    """Store a 1000-byte file; ``age``: pretend it was last used that many seconds ago."""
    digest = files.keep(io.BytesIO(fill * 1000), max_bytes=10_000)
    if age is not None:
        path = files.root / "files" / f"{digest}.keras"
        os.utime(path, (path.stat().st_atime - age, path.stat().st_mtime - age))
    return digest


def _stored(files: ModelFiles) -> set[str]:
    return {path.stem for path in (files.root / "files").glob("*.keras")}


def test_the_least_recently_used_files_go_beyond_the_bound(tmp_path):
    files = ModelFiles(tmp_path, max_bytes=2500)
    first, second = _keep(files, b"a", age=200), _keep(files, b"b", age=100)
    files.path(first)  # used just now: the second is now the least recently used
    third = _keep(files, b"c")
    assert _stored(files) == {first, third}
    assert files.count() == 2
    fourth = _keep(files, b"d")  # the first was used before the third was kept
    assert _stored(files) == {third, fourth}
    with pytest.raises(ExplainerError, match="upload it again"):
        files.path(second)


def test_a_file_being_read_stays_over_the_bound(tmp_path):
    files = ModelFiles(tmp_path, max_bytes=1500)
    first = _keep(files, b"a")
    with files.using(first) as path:
        os.utime(path, (0, 0))  # the oldest file by far, yet it is being read
        second = _keep(files, b"b", age=10)
        third = _keep(files, b"c")
        assert path.is_file() and _stored(files) == {first, third}
    assert second not in _stored(files)
    _keep(files, b"d")
    assert first not in _stored(files)  # read no more, it goes first


def test_the_bound_comes_from_the_environment(tmp_path, monkeypatch):
    monkeypatch.delenv(MODEL_STORE_ENV, raising=False)
    assert ModelFiles(tmp_path).max_bytes == DEFAULT_MODEL_STORE_MB * 2**20 == 2000 * 2**20
    monkeypatch.setenv(MODEL_STORE_ENV, "5")
    assert ModelFiles(tmp_path).max_bytes == 5 * 2**20
    monkeypatch.setenv(MODEL_STORE_ENV, "lots")  # not a number: the default
    assert ModelFiles(tmp_path).max_bytes == DEFAULT_MODEL_STORE_MB * 2**20


def test_an_upload_whose_file_went_asks_to_be_uploaded_again(tmp_path):
    """A session's upload, its file removed from the store (by the bound, in another process): a map of it
    is refused in words, not with a server error."""
    from service import ExplainerService
    from service.own_models import OwnModel, owner_of, upload_name
    from test_own_models_app import tiny_keras

    tiny_keras(tmp_path / "pets.keras")
    svc = ExplainerService(tmp_path / "data", weights="random")
    with open(tmp_path / "pets.keras", "rb") as stream:
        digest = svc.catalogue.files.keep(stream, 10**7)
    owner = owner_of("alice")
    entry = OwnModel(upload_name(digest, None, "unit", owner), "pets", "upload", digest=digest, owner=owner)
    svc.add_uploaded_model(entry, "alice")
    (svc.catalogue.files.root / "files" / f"{digest}.keras").unlink()
    later = ExplainerService(tmp_path / "data", weights="random")  # another process: the model is not resident
    key = later.add_image(png_bytes(seed=3))
    with pytest.raises(ExplainerError, match="Please upload it again"):
        later.explain(key, entry.name, "grad_cam", client="alice")
