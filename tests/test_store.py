"""The picture store stays bounded (decoded pictures in memory by bytes, uploads on disk by bytes, least
recently used out) and keeps serving when its folder goes away. No model is built."""

import io
import os
import shutil

import numpy as np
import pytest
from PIL import Image

from explainers.errors import ImageError
from explainers.images import decode
from helpers import png_bytes
from service.store import KEPT_MAX_SIDE, ImageStore


def big_png(side: int = 7000) -> bytes:
    """A ``side`` × ``side`` PNG of two flat halves: small on the wire, ~150 MB decoded."""
    pixels = np.zeros((side, side, 3), np.uint8)
    pixels[:, side // 2 :] = (200, 40, 90)
    buffer = io.BytesIO()
    Image.fromarray(pixels).save(buffer, "PNG", optimize=False, compress_level=9)
    return buffer.getvalue()


def test_a_huge_picture_is_kept_at_the_largest_size_anything_reads(tmp_path):
    store = ImageStore(tmp_path)
    key = store.put(big_png())
    kept = store.get(key)
    assert max(kept.shape[:2]) <= KEPT_MAX_SIDE and kept.shape[2] == 3
    assert kept.shape[0] == kept.shape[1]  # area-resized, not cropped
    assert tuple(kept[10, 10]) == (0, 0, 0) and tuple(kept[10, -10]) == (200, 40, 90)
    fresh = ImageStore(tmp_path)  # read back from disk: the same bound
    assert fresh.get(key).shape == kept.shape


def test_pictures_that_fit_are_kept_unchanged(tmp_path):
    data = png_bytes(300, 200, seed=3)
    store = ImageStore(tmp_path)
    assert np.array_equal(store.get(store.put(data)), decode(data))


def test_the_memory_cache_is_bounded_by_bytes(tmp_path):
    one = 400 * 300 * 3
    store = ImageStore(tmp_path, memory_bytes=3 * one)
    keys = [store.put(png_bytes(400, 300, seed=seed)) for seed in range(8)]
    assert store.memory_used() <= 3 * one
    assert np.array_equal(store.get(keys[0]), decode(png_bytes(400, 300, seed=0)))  # read back from disk
    assert store.memory_used() <= 3 * one


def test_the_disk_store_is_bounded_by_bytes_least_recently_used_out(tmp_path):
    pictures = [png_bytes(100, 100, seed=seed) for seed in range(5)]
    size = max(map(len, pictures))
    store = ImageStore(tmp_path, disk_bytes=3 * size + 10)
    keys = []
    for age, data in enumerate(pictures[:3]):
        keys.append(store.put(data))
        os.utime(tmp_path / keys[-1], (1000 + age, 1000 + age))  # the first stored is the oldest
    store.get(keys[0])  # ... but it was just used
    keys += [store.put(data) for data in pictures[3:]]
    stored = [name for name in os.listdir(tmp_path) if not name.startswith(".")]
    assert sum((tmp_path / name).stat().st_size for name in stored) <= 3 * size + 10
    assert keys[0] in stored and keys[1] not in stored
    with pytest.raises(ImageError, match="upload it again"):
        store.get(keys[1])


def test_a_deleted_data_folder_is_made_again(tmp_path):
    store = ImageStore(tmp_path / "data" / "images")
    store.put(png_bytes(seed=1))
    shutil.rmtree(tmp_path / "data")
    key = store.put(png_bytes(seed=2))
    assert (tmp_path / "data" / "images" / key).is_file() and store.problem is None


def test_a_file_in_place_of_the_folder_keeps_uploads_in_memory_and_says_degraded(tmp_path):
    from service import ExplainerService

    svc = ExplainerService(tmp_path / "data", weights="random")
    before = svc.add_image(png_bytes(seed=4))
    shutil.rmtree(tmp_path / "data" / "images")
    (tmp_path / "data" / "images").write_bytes(b"in the way")
    key = svc.add_image(png_bytes(seed=5))
    assert np.array_equal(svc.image(key), decode(png_bytes(seed=5)))
    assert svc.image(before).shape == (48, 64, 3)
    health = svc.health()
    assert health["status"] == "degraded" and "memory" in " ".join(health["errors"])


def test_uploads_never_answer_500_when_the_folder_is_gone(app, client, tmp_path):
    images = tmp_path / "web" / "images"
    client.post(
        "/api/v1/explain",
        data={"image": (io.BytesIO(png_bytes(seed=6)), "a.png"), "model": "nope"},
        content_type="multipart/form-data",
    )
    shutil.rmtree(images.parent)
    images.parent.mkdir()
    images.write_bytes(b"a file where the folder was")
    for seed in (6, 7):
        answer = client.post(
            "/api/v1/explain",
            data={"image": (io.BytesIO(png_bytes(seed=seed)), "a.png"), "model": "nope"},
            content_type="multipart/form-data",
        )
        assert answer.status_code == 400 and "Unknown model" in answer.get_json()["error"]
    ready = client.get("/readyz")
    assert ready.status_code == 503 and ready.get_json()["status"] == "degraded"


def test_random_weights_can_be_turned_off_for_everyone(client, monkeypatch):
    monkeypatch.setenv("EXPLAINERS_ALLOW_RANDOM", "0")
    answer = client.post(
        "/api/v1/explain",
        data={"image": (io.BytesIO(png_bytes(seed=8)), "a.png"), "model": "shapes", "weights": "random"},
        content_type="multipart/form-data",
    )
    assert answer.status_code == 400 and "Random weights are turned off" in answer.get_json()["error"]
