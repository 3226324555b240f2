"""A set of pictures as one group of jobs: every few pictures one job on the service's queue (so with
``EXPLAINER_BACKEND=celery`` they spread over the workers), every picture's result in the result cache.

The pictures go into the picture store and the results into the result cache, as single uploads and
maps do: nothing of a set is held in this process beyond its short record (names, keys, labels,
regions, job ids). A picture whose result is in the cache is never computed again, so ``resume``
(or starting the same set again) computes only what is missing. A worker that dies loses only the
pictures of its job: each is queued again alone, once, and marked "retried" in its row. ``status``
reads what is done so far and sums it up (rows, mean maps, sentences, the time left).
"""

from __future__ import annotations

import base64
import os
import threading
import time
import uuid
from collections.abc import Callable, Iterable, Mapping
from typing import IO, Any

import numpy as np

from explainers.errors import ExplainerError
from explainers.methods import get_method
from explainers.sets.compute import PictureScores, explain_batch, score_picture
from explainers.sets.reading import SetLimits, read_files
from explainers.sets.regions import match_truth
from explainers.sets.report import map_png, thumbnails
from explainers.sets.summary import SetSummary
from explainers.versions import method_version
from service.errors import WorkerStopped

SET_CHUNK_ENV = "EXPLAINER_SET_CHUNK"
SMALL_MAP_SIDE = 32  # each picture's map is kept this small for the set's mean maps


def chunk_size() -> int:
    """Pictures per job (``EXPLAINER_SET_CHUNK``, default 4): one batched pass each, and small enough
    that the pictures of a set spread over several workers."""
    try:
        return max(1, min(64, int(os.environ.get(SET_CHUNK_ENV, 4))))
    except ValueError:
        return 4


class SetNotFound(ExplainerError):
    """No set with this id (never started, forgotten, or someone else's)."""


def _uri(png: bytes) -> str:
    return "data:image/png;base64," + base64.b64encode(png).decode("ascii")


def _picture_key(svc: Any, record: Mapping[str, Any], picture: Mapping[str, Any]) -> tuple:
    """The cache key of one picture's result: the picture, model, weights, method and what it is scored against."""
    method = get_method(record["method"])
    return (
        "set_picture",
        picture["key"],
        record["model"],
        svc.weights_identity(record["model"], record["weights"]),
        method.name,
        record["layer"] if method.uses_layer else None,
        picture.get("label"),
        tuple(picture["box"]) if picture.get("box") else picture.get("mask"),
        method_version(method),
    )


def _region(svc: Any, picture: Mapping[str, Any], image: np.ndarray) -> tuple[np.ndarray | None, str]:
    """The object's pixels on the stored picture (which may be smaller than the file), and their kind."""
    from explainers.evaluation.localization import box_mask, scale_box

    if picture.get("mask"):
        return svc.images.get(picture["mask"]).max(axis=2) > 0, "mask"
    if picture.get("box"):
        box = scale_box(picture["box"], (picture["height"], picture["width"]), image.shape)
        return box_mask(image.shape, box), "box"
    return None, ""


def compute_chunk(
    svc: Any,
    request: Mapping[str, Any],
    progress: Callable[[float], None] | None = None,
    cache_key: Any = None,
    preview: Any = None,
) -> dict[str, Any]:
    """A job of a set: the pictures of ``request`` not yet in the cache, explained in one batch, each
    scored and cached with its thumbnails and a small map. The service's handler for "set_chunk"."""
    todo = [p for p in request["pictures"] if svc.cache.get(_picture_key(svc, request, p)) is None]
    if not todo:
        return {"computed": 0}
    loaded = svc.load(request["model"], request["weights"])
    images = [svc.images.get(p["key"]) for p in todo]
    heatmaps, top5s = explain_batch(loaded, images, request["method"], request["layer"])
    for picture, image, heatmap, top5 in zip(todo, images, heatmaps, top5s):
        region, kind = _region(svc, picture, image)
        scores = score_picture(picture["name"], heatmap, top5, loaded.labels, picture.get("label"), region, kind)
        small, heat = thumbnails(loaded.prepare(image), heatmap)
        import cv2

        side = SMALL_MAP_SIDE
        value = {
            "row": scores.row() | {"top5": [list(t) for t in scores.top5]},
            "picture": _uri(small),
            "map": _uri(heat),
            "small_map": cv2.resize(heatmap, (side, side), interpolation=cv2.INTER_AREA).astype(np.float32),
            "process": os.getpid(),  # which worker computed it (tests/test_remote_sets.py reads it)
        }
        svc.cache.put(_picture_key(svc, request, picture), value)
    if progress is not None:
        progress(1.0)
    return {"computed": len(todo)}


class SetRuns:
    """The sets started in this service: their records in the result cache, their jobs on the queue."""

    def __init__(self, svc: Any):
        self.svc = svc
        self._lock = threading.Lock()

    @staticmethod
    def max_bytes() -> int:
        """The most one set may hold, in bytes (``EXPLAINER_SET_MAX_MB``)."""
        return SetLimits.from_env().max_bytes

    @staticmethod
    def max_files() -> int:
        """The most entries one set may list (pictures, masks, CSV files), from ``EXPLAINER_SET_MAX_PICTURES``."""
        return SetLimits.from_env().max_members

    def start_demo(self, kind: str, model: str, client: str | None = None) -> str:
        """Start a demo set drawn on the fly ("clever_hans" or "shapes", see ``explainers.sets.demo``)."""
        from explainers.sets.demo import DEMO_SETS, demo_zip

        if kind not in DEMO_SETS:
            raise ExplainerError(f"There is no demo set called {kind!r}. Choose one of: {', '.join(DEMO_SETS)}.")
        return self.start([(f"{kind}.zip", demo_zip(kind))], model, client=client)

    def start(
        self,
        files: Iterable[tuple[str, bytes | IO[bytes]]],
        model: str,
        method: str = "grad_cam",
        layer: str | None = None,
        weights: str | None = None,
        client: str | None = None,
    ) -> str:
        """Read a set (many pictures, or one zip), store its pictures, queue its jobs; returns its id.
        Bad entries are listed in the set's problems; a set with no usable picture is an error."""
        from explainers.models import model_labels, resolve_model_name

        svc = self.svc
        model = resolve_model_name(model)
        method = get_method(method).name
        layer = svc._check_layer(model, layer)
        weights = svc._weights(weights)
        picture_set = read_files(files, SetLimits.from_env(), store=svc.add_image)  # stored one at a time
        truth = match_truth(picture_set, model_labels(model))
        problems = [[p.entry, p.reason] for p in (*picture_set.problems, *truth.problems)]
        pictures = []
        for picture in picture_set.pictures:
            entry = {"name": picture.name, "key": picture.key}
            entry |= {"width": picture.width, "height": picture.height, "label": truth.labels.get(picture.name)}
            if picture.name in truth.masks:
                entry["mask"] = svc.add_image(truth.masks[picture.name])
            elif picture.name in truth.boxes:
                entry["box"] = list(truth.boxes[picture.name])
            pictures.append(entry)
        if not pictures:
            reasons = "; ".join(f"{entry}: {reason}" for entry, reason in problems[:3])
            raise ExplainerError(f"The set holds no picture that can be read. {reasons}".strip())
        set_id = uuid.uuid4().hex
        record = {
            "id": set_id,
            "client": client,
            "model": model,
            "method": method,
            "layer": layer,
            "weights": weights,
            "pictures": pictures,
            "problems": problems,
        }
        self._submit(record)
        return set_id

    def _submit(self, record: dict[str, Any]) -> None:
        """Queue a job for every chunk with a picture not yet computed; keep the job ids in the record."""
        svc = self.svc
        record["jobs"], record["job_pictures"], record["started"] = [], {}, time.time()
        record.setdefault("retried", [])
        record["lost"] = {}
        missing = [i for i, p in enumerate(record["pictures"]) if svc.cache.get(_picture_key(svc, record, p)) is None]
        record["to_compute"] = len(missing)
        size = chunk_size()
        for start in range(0, len(missing), size):
            self._queue(record, missing[start : start + size])
        svc.cache.put(("set", record["id"]), record)

    def _queue(self, record: dict[str, Any], indices: list[int], retry: bool = False) -> None:
        """One job for the pictures at ``indices``; its id and pictures go into the record."""
        fields = {name: record[name] for name in ("model", "method", "layer", "weights")}
        chunk = [record["pictures"][i] for i in indices]
        request = {"kind": "set_chunk", **fields, "pictures": chunk}
        key = ("set_chunk_again" if retry else "set_chunk", *(_picture_key(self.svc, record, p) for p in chunk))
        job = self.svc.jobs.submit(
            key, request, session=record["id"], deadline=600.0, client=record["client"], title="a set"
        )
        record["jobs"].append(job.id)
        record["job_pictures"][job.id] = list(indices)

    def _retry_lost(self, record: dict[str, Any], jobs: list[Any]) -> bool:
        """A job lost with its worker (``WorkerStopped``) loses only its pictures: each one not yet computed
        is queued again alone, once; a picture lost a second time is left out and named. True if changed."""
        changed = False
        for job in jobs:
            if job is None or job.status != "failed" or not isinstance(job.error, WorkerStopped):
                continue
            for index in record.setdefault("job_pictures", {}).pop(job.id, []):
                picture = record["pictures"][index]
                if self.svc.cache.get(_picture_key(self.svc, record, picture)) is not None:
                    continue
                if picture["name"] in record.setdefault("retried", []):
                    record.setdefault("lost", {})[picture["name"]] = "the worker computing this picture stopped twice"
                else:
                    record["retried"].append(picture["name"])
                    self._queue(record, [index], retry=True)
            changed = True
        return changed

    def record(self, set_id: str, client: str | None = None) -> dict[str, Any]:
        found = self.svc.cache.get(("set", str(set_id))) if isinstance(set_id, str) else None
        if found is None or found.get("client") != client:
            raise SetNotFound("This set is not known here (it may have been forgotten). Please start it again.")
        return found

    def cancel(self, set_id: str, client: str | None = None) -> int:
        """Stop the set's waiting and running jobs; pictures already computed stay cached."""
        record = self.record(set_id, client)
        return sum(bool(self.svc.jobs.cancel(job, "Stopped.", client=client)) for job in record["jobs"])

    def resume(self, set_id: str, client: str | None = None) -> None:
        """Queue again every picture not computed yet (after a cancel or a lost worker)."""
        self._submit(self.record(set_id, client))

    def status(self, set_id: str, client: str | None = None, with_rows: bool = True) -> dict[str, Any]:
        """What is done: counts, time left, failed jobs' messages, rows, mean maps and sentences."""
        svc = self.svc
        with self._lock:  # two pages polling the same set must not queue a lost picture twice
            record = self.record(set_id, client)
            jobs = [svc.jobs.get(job_id, client=client) for job_id in record["jobs"]]
            for job in jobs:
                if job is not None and not job.done:
                    job.snapshot()  # a Celery job's state is read from Redis only when asked
            if self._retry_lost(record, jobs):
                svc.cache.put(("set", record["id"]), record)
                jobs = [svc.jobs.get(job_id, client=client) for job_id in record["jobs"]]
        found = [svc.cache.get(_picture_key(svc, record, p)) for p in record["pictures"]]
        done = sum(value is not None for value in found)
        total = len(record["pictures"])
        lost = record.get("lost", {})
        failed = sorted(
            {
                str(job.error)
                for job in jobs
                if job is not None and job.status == "failed" and not isinstance(job.error, WorkerStopped)
            }
        )
        stopped = any(job is not None and job.status == "cancelled" for job in jobs)
        computed_now = done - (total - record.get("to_compute", total))
        elapsed = time.time() - record["started"]
        left = None
        if 0 < computed_now < record.get("to_compute", total) and not stopped:
            left = elapsed / computed_now * (total - done)
        summary = SetSummary()
        rows = []
        for picture, value in zip(record["pictures"], found):
            if value is None:
                continue
            row = dict(value["row"])
            scores = PictureScores(**{**row, "top5": [tuple(t) for t in row["top5"]]})
            summary.add_map(scores, value["small_map"])
            if with_rows:
                retried = picture["name"] in record.get("retried", ())
                rows.append(
                    {**scores.row(), "picture": value["picture"], "map": value["map"], "key": picture["key"]}
                    | {"retried": retried}
                )
        mean = summary.mean_map
        return {
            "id": record["id"],
            "model": record["model"],
            "method": record["method"],
            "total": total,
            "done": done,
            "finished": done + len(lost) == total,
            "stopped": stopped and done < total,
            "seconds_left": left,
            "errors": failed,
            "problems": record["problems"] + [[name, lost[name]] for name in sorted(lost)],
            "sentences": summary.sentences() if done else [],
            "mean_map": None if mean is None else _uri(map_png(mean)),
            "class_maps": [[name, count, _uri(map_png(m, 96))] for name, (count, m) in summary.class_maps().items()],
            "rows": rows,
        }
