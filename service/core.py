"""The explainer service: what the dashboard's callbacks and the download routes call.

It owns the picture store, the resident models (``explainers.load_model`` keeps one copy per process)
and a bounded cache of results, and it answers in plain data (lists, dicts, numpy arrays). Importing it
does not import TensorFlow; the first prediction or map does.

Concurrent requests for the same result are computed once ("single flight"): when six method cards of
one page ask at the same moment, or thirty students load the same example, the first computes and the
others wait for its answer.
"""
from __future__ import annotations

import logging
import os
import threading
import time
from collections import OrderedDict
from concurrent.futures import Future
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable, Mapping

import numpy as np

from explainers import weights as weights_mod
from explainers.errors import ExplainerError, UnknownNameError
from explainers.labels import IMAGENET_LABELS
from explainers.methods import METHODS, get_method
from explainers.models import MODELS, prepare_image, resolve_model_name, static_layers
from service.store import ImageStore

log = logging.getLogger(__name__)

WEIGHT_MODES = ("imagenet", "random")
DISPLAY_MAX_SIDE = 320  # heatmaps travel to the browser at most this many pixels on a side
CODE_VERSION = "1"  # bump when a method's output changes, so cached maps are not reused


@dataclass
class MapResult:
    """One computed map, as the UI needs it (no TensorFlow objects)."""

    method: str
    model: str
    heatmap: np.ndarray  # float32 (input size, input size), not normalised
    target: int
    label: str
    layer: str | None
    seconds: float
    signed: bool
    params: dict[str, Any]
    meta: dict[str, Any] = field(default_factory=dict)
    cached: bool = False


class _LRU:
    def __init__(self, items: int):
        self.items = items
        self._data: OrderedDict[Any, Any] = OrderedDict()
        self._lock = threading.Lock()
        self.hits = self.misses = 0

    def get(self, key):
        with self._lock:
            if key in self._data:
                self._data.move_to_end(key)
                self.hits += 1
                return self._data[key]
            self.misses += 1
            return None

    def put(self, key, value) -> None:
        with self._lock:
            self._data[key] = value
            self._data.move_to_end(key)
            while len(self._data) > self.items:
                self._data.popitem(last=False)


class ExplainerService:
    """Pictures in, predictions and maps out; cached, single-flight, thread-safe."""

    def __init__(self, data_dir: str | os.PathLike | None = None, weights: str = "imagenet",
                 weights_dir: str | os.PathLike | None = None, cache_items: int = 256):
        if weights not in WEIGHT_MODES:
            raise ValueError(f"weights must be one of {WEIGHT_MODES}. Received: {weights!r}.")
        data_dir = Path(data_dir or os.environ.get("EXPLAINERS_DATA_DIR") or Path.home() / ".cache" / "saliency")
        self.images = ImageStore(data_dir / "images")
        self.default_weights = weights
        self.weights_dir = weights_dir
        self._results = _LRU(cache_items)
        self._inflight: dict[Any, Future] = {}
        self._inflight_lock = threading.Lock()
        self._status_cache: tuple[float, dict[str, weights_mod.WeightsStatus]] | None = None
        self.device = "not started yet"

    # ---- catalogue (no TensorFlow) -------------------------------------------------------------
    def models(self) -> list[dict[str, Any]]:
        return [{"name": spec.name, "title": spec.title, "input_size": spec.input_size,
                 "default_layer": spec.default_layer, "blurb": spec.blurb} for spec in MODELS.values()]

    def labels(self) -> list[dict[str, Any]]:
        """The 1000 ImageNet classes for a picker: value = index, label = "281 · tabby cat (tabby)"."""
        return [{"label": label.display, "value": label.index} for label in IMAGENET_LABELS]

    def layers(self, model: str) -> list[dict[str, Any]]:
        return [{"name": info.name, "label": info.display, "height": info.height, "width": info.width}
                for info in static_layers(model)]

    def methods(self) -> list[dict[str, Any]]:
        return [{"name": cls.name, "title": cls.title, "description": cls.description, "paper": cls.paper,
                 "uses_layer": cls.uses_layer, "signed": cls.signed} for cls in METHODS.values()]

    def weights_status(self, max_age: float = 300.0) -> dict[str, weights_mod.WeightsStatus]:
        """ImageNet weights status per model, probing the network at most every ``max_age`` seconds."""
        now = time.monotonic()
        if self._status_cache is None or now - self._status_cache[0] > max_age:
            reachable = None
            statuses = {}
            for name in MODELS:
                state = weights_mod.status(name, self.weights_dir)
                if state.state == "download":
                    if reachable is None:
                        reachable = weights_mod.can_reach_download_server()
                    if not reachable:
                        state = weights_mod.WeightsStatus(
                            name, "missing", None, weights_mod.missing_message(weights_mod.IMAGENET_WEIGHTS[name]))
                statuses[name] = state
            self._status_cache = (now, statuses)
        return self._status_cache[1]

    # ---- pictures --------------------------------------------------------------------------------
    def add_image(self, data: bytes) -> str:
        return self.images.put(data)

    def image(self, key: str) -> np.ndarray:
        return self.images.get(key)

    def model_input(self, key: str, model: str) -> np.ndarray:
        """The exact picture the model sees: the upload resized to the model's input size."""
        return prepare_image(self.images.get(key), MODELS[resolve_model_name(model)].input_size)

    # ---- computing ----------------------------------------------------------------------------
    def _weights(self, weights: str | None) -> str:
        weights = weights or self.default_weights
        if weights not in WEIGHT_MODES:
            raise UnknownNameError(f"Unknown weights {weights!r}. Choose one of: {', '.join(WEIGHT_MODES)}.")
        return weights

    def load(self, model: str, weights: str | None = None):
        from explainers.models import load_model

        weights = self._weights(weights)
        loaded = load_model(resolve_model_name(model), weights=None if weights == "random" else "imagenet",
                            weights_dir=self.weights_dir)
        self.device = loaded.device
        return loaded

    def predict(self, key: str, model: str, weights: str | None = None, top: int = 5) -> list[tuple[int, str, float]]:
        weights = self._weights(weights)
        model = resolve_model_name(model)
        image = self.images.get(key)
        cache_key = ("predict", key, model, weights, CODE_VERSION)

        def compute():
            return self.load(model, weights).predict(image, top=5)

        return self._single_flight(cache_key, compute)[: max(1, top)]

    def explain(self, key: str, model: str, method: str, target: int | None = None, layer: str | None = None,
                weights: str | None = None, params: Mapping[str, Any] | None = None) -> MapResult:
        """One map, from the cache when it was computed before (``cached=True``)."""
        weights = self._weights(weights)
        model = resolve_model_name(model)
        method_cls = get_method(method)
        layer_name = self._check_layer(model, layer)
        method_instance = method_cls(**dict(params or {}))  # validates and clamps settings now
        if target is not None:
            target = IMAGENET_LABELS.resolve(target)
        image = self.images.get(key)
        cache_key = ("map", key, model, weights, method_cls.name, target,
                     layer_name if method_cls.uses_layer else None,
                     tuple(sorted(method_instance.settings.items())), CODE_VERSION)
        started = time.perf_counter()
        was_cached = self._results.get(cache_key) is not None

        def compute() -> MapResult:
            from explainers.api import explain

            loaded = self.load(model, weights)
            e = explain(loaded, image, method_instance, target=target, layer=layer_name)
            return MapResult(method=e.method, model=model, heatmap=e.heatmap, target=e.target, label=e.label,
                             layer=e.layer, seconds=e.seconds, signed=e.signed, params=e.params,
                             meta={"notes": e.meta.get("notes", []), "random_weights": loaded.random_weights,
                                   "device": loaded.device})

        result = self._single_flight(cache_key, compute)
        if was_cached:
            return MapResult(**{**result.__dict__, "cached": True, "seconds": time.perf_counter() - started})
        return result

    def _check_layer(self, model: str, layer: str | None) -> str:
        names = [info.name for info in static_layers(model)]
        if layer in (None, ""):
            return MODELS[model].default_layer
        if layer not in names:
            raise UnknownNameError(f"{MODELS[model].title} has no layer called {layer!r} that can be explained.")
        return layer

    def _single_flight(self, cache_key, compute: Callable[[], Any]):
        cached = self._results.get(cache_key)
        if cached is not None:
            return cached
        with self._inflight_lock:
            future = self._inflight.get(cache_key)
            owner = future is None
            if owner:
                future = Future()
                self._inflight[cache_key] = future
        if not owner:
            return future.result()
        try:
            value = compute()
        except BaseException as error:
            future.set_exception(error)
            raise
        else:
            self._results.put(cache_key, value)
            future.set_result(value)
            return value
        finally:
            with self._inflight_lock:
                self._inflight.pop(cache_key, None)

    # ---- display --------------------------------------------------------------------------------
    @staticmethod
    def display_shape(shape: tuple[int, ...], max_side: int = DISPLAY_MAX_SIDE) -> tuple[int, int]:
        """(height, width) of a picture of ``shape`` scaled down so its longer side is ``max_side``."""
        height, width = int(shape[0]), int(shape[1])
        factor = min(1.0, max_side / max(height, width))
        return max(1, round(height * factor)), max(1, round(width * factor))

    @staticmethod
    def scale_of(result: MapResult, mode: str = "absolute", percentile: float = 99.0) -> float:
        """The value that ``display_levels`` would map to full colour for ``result`` on its own."""
        from explainers.render import map_scale

        values = result.heatmap if (result.signed and mode == "signed") else np.abs(result.heatmap)
        return map_scale(values, percentile)

    def display_levels(self, key: str, result: MapResult, mode: str = "absolute", percentile: float = 99.0,
                       scale: float | None = None) -> tuple[np.ndarray, float]:
        """uint8 levels of ``result``'s map at display size over picture ``key`` (see render.display_map)."""
        from explainers.render import display_map

        mode = mode if result.signed else "absolute"
        shape = self.display_shape(self.images.get(key).shape)
        return display_map(result.heatmap, shape, mode=mode, percentile=percentile, scale=scale)

    def overlay(self, key: str, result: MapResult, *, colormap: str = "viridis", opacity: float = 0.5,
                percentile: float = 99.0, mode: str = "absolute", max_side: int = 2048) -> np.ndarray:
        """The picture with ``result``'s map over it, RGB uint8, at most ``max_side`` on a side (downloads)."""
        import cv2

        from explainers.render import overlay

        image = self.images.get(key)
        factor = min(1.0, max_side / max(image.shape[:2]))
        if factor < 1.0:
            image = cv2.resize(image, (round(image.shape[1] * factor), round(image.shape[0] * factor)),
                               interpolation=cv2.INTER_AREA)
        colormap = colormap if colormap in {"viridis", "inferno", "jet", "gray"} else "viridis"
        return overlay(image, result.heatmap, opacity=opacity, colormap=colormap, percentile=percentile,
                       signed=result.signed and mode == "signed")

    @staticmethod
    def versions() -> dict[str, str]:
        import importlib.metadata as metadata

        import explainers

        found = {"explainers": explainers.__version__}
        for package in ("tensorflow-cpu", "tensorflow", "keras", "dash", "plotly", "numpy"):
            try:
                found[package] = metadata.version(package)
            except metadata.PackageNotFoundError:
                pass
        return found

    def cache_stats(self) -> dict[str, int]:
        return {"hits": self._results.hits, "misses": self._results.misses}


def describe_error(error: BaseException) -> str:
    """The message a person sees: ours as they are, anything else as a calm generic line (logged)."""
    if isinstance(error, ExplainerError):
        return str(error)
    if isinstance(error, MemoryError):
        return "The server ran out of memory for this request. Please try a smaller picture or fewer methods."
    log.exception("unexpected error", exc_info=error)
    return "Something went wrong on the server while computing this. Please try again."
