"""The result cache: memory first, then disk shared across processes; a broken disk never blocks."""

import os

import numpy as np
import pytest

from service.cache import ResultCache


def test_memory_then_disk(tmp_path):
    cache = ResultCache(tmp_path, memory_items=2)
    value = {"heatmap": np.arange(6, dtype=np.float32)}
    assert cache.get(("a", 1)) is None
    cache.put(("a", 1), value)
    np.testing.assert_array_equal(cache.get(("a", 1))["heatmap"], value["heatmap"])
    for i in range(3):  # push ("a", 1) out of memory
        cache.put(("b", i), i)
    again = ResultCache(tmp_path)  # another process, or after a restart
    np.testing.assert_array_equal(again.get(("a", 1))["heatmap"], value["heatmap"])
    assert again.stats()["disk_hits"] == 1 and again.stats()["hit_rate"] == 1.0
    assert cache.stats()["misses"] == 1


@pytest.mark.skipif(os.geteuid() == 0, reason="root ignores file permissions, so a read-only folder is writable")
def test_read_only_folder_still_computes(tmp_path):
    folder = tmp_path / "ro"
    folder.mkdir()
    folder.chmod(0o500)
    cache = ResultCache(folder / "results")
    cache.put("k", 1)
    assert cache.get("k") == 1 and "not usable" in cache.stats()["warning"]


def test_unusable_disk_cache_falls_back_to_memory(tmp_path):
    blocker = tmp_path / "a-file"
    blocker.write_text("not a folder")
    cache = ResultCache(blocker / "results")  # cannot create a folder inside a file
    cache.put("k", 2)
    assert cache.get("k") == 2
    assert "not usable" in cache.stats()["warning"]
