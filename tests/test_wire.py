"""service.wire: every kind of result survives the trip through Redis and Celery bit for bit, and nothing
read back from Redis is ever unpickled (a forged entry is refused, logged and read as missing).

The forged entries below would create a file if anything unpickled them; the file must never appear.
Redis itself is replaced by a dict here (tests/test_remote.py does the same against a real redis-server)."""

from __future__ import annotations

import base64
import io
import json
import logging
import math
import pickle

import numpy as np
import pytest

from explainers.errors import ExplainerError
from service.cache import ResultCache, key_text
from service.jobs import Cancelled
from service.remote import PREFIX, RedisStore, make_celery, received
from service.results import MapResult
from service.wire import FORMAT, VERSION, WireFormatError, decode, encode, from_wire, to_wire


class DictRedis:
    """The two Redis commands RedisStore uses, over a dict."""

    def __init__(self):
        self.data: dict[str, bytes] = {}

    def get(self, name: str) -> bytes | None:
        return self.data.get(name)

    def set(self, name: str, value: bytes, ex: int | None = None) -> None:
        assert isinstance(value, bytes)
        self.data[name] = value


class CreatesFile:
    """Unpickling this opens ``path`` for writing, which creates it: proof that a pickle was executed."""

    def __init__(self, path):
        self.path = str(path)

    def __reduce__(self):
        return open, (self.path, "w")


def _store() -> RedisStore:
    store = RedisStore("redis://127.0.0.1:1/0")  # never connects: its client is replaced
    store.client = DictRedis()
    return store


def _same(back, value) -> None:
    """Equal, with the same types all the way down; arrays bit for bit with the same dtype and shape."""
    assert type(back) is type(value), (type(back), type(value))
    if isinstance(value, np.ndarray):
        assert back.dtype == value.dtype and back.shape == value.shape
        assert back.tobytes() == np.ascontiguousarray(value).tobytes()
    elif isinstance(value, np.generic):
        assert back.dtype == value.dtype and back.tobytes() == value.tobytes()
    elif isinstance(value, dict):
        assert list(back) == list(value)
        for key in value:
            _same(back[key], value[key])
    elif isinstance(value, (list, tuple)):
        assert len(back) == len(value)
        for one, other in zip(back, value):
            _same(one, other)
    elif isinstance(value, MapResult):
        for name in value.__dict__:
            _same(getattr(back, name), getattr(value, name))
    elif isinstance(value, float) and math.isnan(value):
        assert math.isnan(back)
    else:
        assert back == value


def _map_result() -> MapResult:
    rng = np.random.default_rng(0)
    heatmap = rng.normal(size=(224, 224)).astype(np.float32)
    heatmap[0, :3] = [np.nan, np.inf, -0.0]
    return MapResult(
        method="smoothgrad",
        model="shapes",
        heatmap=heatmap,
        target=3,
        label="star",
        layer=None,
        seconds=0.123456789,
        signed=True,
        params={"n_samples": 32, "noise": 0.15, "seed": 2**40},
        meta={
            "notes": ["n_samples was capped at 256."],
            "random_weights": False,
            "device": "CPU",
            "predictions": [[3, "star", 0.91], [1, "circle", 0.05]],
            "completeness_error": np.float32(0.25),
        },
        cached=False,
    )


def _check_result() -> dict:
    rng = np.random.default_rng(1)
    return {
        "check": "sanity",
        "method": "grad_cam",
        "target": 3,
        "layer": None,
        "original": rng.random((56, 56)).astype(np.float32),
        "steps": [
            {
                "layer": "conv2",
                "heatmap": rng.random((56, 56)),
                "rank_correlation": float("nan"),
                "ssim": np.float64(0.5),
            }
        ],
        "seeds": (0, 1, 2),
        "threshold": {("high", 0.9): "tuple keys", 1: "int keys"},
        "extremes": [float("inf"), -float("inf"), 1e-310, 2**70],
        "masks": rng.random((4, 5)) > 0.5,
        "counts": np.arange(6, dtype=">i8").reshape(2, 3),
        "strided": np.arange(20, dtype=np.uint8).reshape(4, 5)[:, ::2],
        "empty": np.zeros((0, 3), np.int16),
        "zero_d": np.array(7.5),
        "peak": np.int64(12),
        "flag": np.bool_(True),
        "name": np.str_("star"),
    }


KINDS = {
    "map": _map_result,
    "check": _check_result,
    "predictions": lambda: [(3, "star", 0.9123456789), (1, "circle", np.float32(0.05))],
}


@pytest.mark.parametrize("kind", KINDS)
def test_every_result_kind_comes_back_exactly_from_redis_and_from_celery_json(kind):
    value = KINDS[kind]()
    _same(decode(encode(value)), value)
    _same(from_wire(json.loads(json.dumps(to_wire(value)))), value)  # Celery's JSON serializer in between
    store = _store()
    store.set("k", value)
    _same(store.get("k"), value)
    assert json.loads(store.client.data[PREFIX + "result:k"])["kind"] == kind


def test_errors_travel_as_errors_and_cancels_stay_cancels():
    for error in (ExplainerError("This layer is not in the model."), Cancelled("Stopped by the client.")):
        back = from_wire(json.loads(json.dumps(to_wire(error))))
        assert type(back) is type(error) and str(back) == str(error)
        assert type(received(to_wire(error))) is type(error)


def test_a_forged_pickle_in_the_redis_result_cache_is_never_unpickled(tmp_path, caplog):
    control, target = tmp_path / "control", tmp_path / "target"
    pickle.loads(pickle.dumps(CreatesFile(control)))  # the payload really runs code when unpickled
    assert control.exists()
    store = _store()
    cache = ResultCache(None, shared=store)
    key = ("map", "picture", "shapes", "grad_cam")
    store.client.data[PREFIX + "result:" + key_text(key)] = pickle.dumps(CreatesFile(target))
    with caplog.at_level(logging.WARNING, logger="service.remote"):
        assert cache.get(key) is None
    assert not target.exists()
    assert cache.stats()["misses"] == 1
    assert any("refused the Redis entry" in record.getMessage() for record in caplog.records)
    cache.put(key, _map_result())  # recomputed: the forged entry is replaced by a real one
    _same(ResultCache(None, shared=store).get(key), _map_result())


def _envelope(kind: str, value) -> bytes:
    return json.dumps({"format": FORMAT, "version": VERSION, "kind": kind, "value": value}).encode()


def _check_with(field) -> bytes:
    """A check whose one field is ``field`` (otherwise well formed)."""
    return _envelope("check", {"$dict": {"field": field}})


def _object_npy(path) -> str:
    """A .npy file of dtype object: its data is a pickle."""
    buffer = io.BytesIO()
    np.save(buffer, np.array([CreatesFile(path)], dtype=object), allow_pickle=True)
    return base64.b64encode(buffer.getvalue()).decode()


def _npy_claiming(shape: tuple[int, ...]) -> str:
    """A .npy file whose header claims ``shape`` (float64) but whose data is 8 bytes."""
    buffer = io.BytesIO()
    np.lib.format.write_array_header_1_0(buffer, {"descr": "<f8", "fortran_order": False, "shape": shape})
    return base64.b64encode(buffer.getvalue() + b"\0" * 8).decode()


def test_anything_but_the_format_is_refused(tmp_path):
    target = tmp_path / "target"
    good = json.loads(encode(_map_result()))
    forged = [
        b"",
        b"\x80\x04N.",
        b"[1, 2]",
        b"{not json",
        b'{"format": "other"}',
        json.dumps({**good, "version": VERSION + 1}).encode(),
        json.dumps({**good, "kind": "pickle"}).encode(),
        json.dumps({**good, "extra": 1}).encode(),
        _check_with({"$array": _object_npy(target)}),  # pickle smuggled inside a .npy
        _check_with({"$array": base64.b64encode(pickle.dumps(CreatesFile(target))).decode()}),
        _check_with({"$array": _npy_claiming((10**6, 10**6))}),  # a header asking for 8 TB
        _check_with({"$array": _npy_claiming((2,))}),
        _check_with({"$object": {"module": "os", "name": "system"}}),
        _envelope("check", {"plain": "objects are tags, never bare"}),
        _envelope("check", {"$dict": {"score": 1}, "$tuple": []}),
        _check_with({"$float": "1e999"}),
        _check_with({"$scalar": json.loads(encode({"a": np.zeros(3)}))["value"]["$dict"]["a"]["$array"]}),
        _envelope("predictions", {"$dict": {}}),
        _envelope("map", {"$dict": {"method": "grad_cam"}}),
        _envelope("error", {"$dict": {"message": 3, "cancelled": False}}),
        b'{"format": "saliency-result", "version": 1, "kind": "check", "value": NaN}',
        b"{\"a\":" * 100000,
    ]
    for data in forged:
        with pytest.raises(WireFormatError):
            decode(data)
    assert decode(_check_with({"$array": _npy_claiming((1,))}))["field"].shape == (1,)  # the forgeries' frame is valid
    assert not target.exists()
    with pytest.raises(WireFormatError):
        encode({"array": np.array([object()], dtype=object)})  # nothing that needs pickle goes out either


def test_a_forged_worker_answer_fails_the_job_in_plain_words(caplog):
    with caplog.at_level(logging.WARNING, logger="service.remote"):
        outcome = received({"error": "looks like the old format", "cancelled": True})
    assert type(outcome) is ExplainerError and "try again" in str(outcome)
    assert any("refused a worker's answer" in record.getMessage() for record in caplog.records)


def test_celery_reads_and_writes_json_only(tmp_path):
    app = make_celery("redis://127.0.0.1:1/0")  # configured, never connected
    assert app.conf.task_serializer == app.conf.result_serializer == "json"
    assert app.conf.accept_content == ["json"] and app.conf.result_accept_content in (None, ["json"])
    target = tmp_path / "target"
    with pytest.raises(Exception):  # noqa: B017 - kombu's DecodeError or ContentDisallowed; either refuses
        app.backend.decode(pickle.dumps(CreatesFile(target)))
    assert not target.exists()
