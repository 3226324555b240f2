"""The explainer service: what the dashboard's callbacks and the download routes call.

It owns the picture store, the resident models (``explainers.load_model`` keeps one copy per process),
the result cache (memory, then disk) and the job queue, and it answers in plain data (lists, dicts,
numpy arrays). Importing it does not import TensorFlow; the first prediction or map does.

Every computation is a job (``service.jobs``): bounded queue, progress, cancel, deadline, one running
job per session, and identical requests computed once ("single flight") — when six method cards of one
page ask at the same moment, or thirty students load the same example, one job computes for all.
"""

from __future__ import annotations

import hashlib
import importlib.metadata
import logging
import os
import threading
import time
from collections.abc import Callable, Mapping
from dataclasses import replace
from pathlib import Path
from typing import Any, ClassVar

import numpy as np

import explainers
from explainers import api, evaluation, render
from explainers import weights as weights_mod
from explainers.compile_policy import GRADIENT_BATCHES, ONE_PICTURE
from explainers.errors import ExplainerError, UnknownNameError
from explainers.familiarity import check as familiarity_of
from explainers.familiarity import for_model as familiarity_statistics
from explainers.methods import METHODS, get_method
from explainers.methods.base import MultiPassMethod
from explainers.models import (
    IMAGENET_MODELS,
    MODELS,
    load_model,
    model_labels,
    prepare_image,
    random_weights_allowed,
    resolve_model_name,
    shapes_weights_id,
    static_layers,
)
from explainers.versions import MAP_CORE, method_version, source_version
from service.backends import make_backend
from service.cache import ResultCache
from service.card_views import clean_view, compute_top_k, key_extras, view_meta
from service.catalogue import ModelCatalogue, facts_of
from service.catalogue import labels as catalogue_labels
from service.classes import picture_probabilities, standing
from service.coalesce import Coalescer, explain_together
from service.errors import describe_error
from service.estimates import Estimate, SpeedLog, work_done
from service.jobs import Job
from service.request_keys import Asked, keyed_request
from service.results import MapResult, is_empty, shrink
from service.sets import SetRuns, compute_chunk
from service.store import MAX_UPLOAD_BYTES, ImageStore
from service.trust import DEADLINES, check_options, compute_check
from service.views import compute_activations, compute_sweep

log = logging.getLogger(__name__)

WEIGHT_MODES = ("imagenet", "random")
DISPLAY_MAX_SIDE = 320  # heatmaps travel to the browser at most this many pixels on a side
#: besides a method's own code (explainers.versions), what a trust check's result depends on
CHECK_CODE = ("explainers.evaluation", "service.trust")
PREVIEW_SIDE = 160  # partial maps are kept at most this many pixels on a side while a job runs
FIRST_METHOD = "grad_cam"  # the page's first card; the predictions come out of its pass
SHAPES_EXAMPLES = Path(__file__).resolve().parent.parent / "assets" / "examples" / "shapes"


def one_pass(method: str) -> bool:
    """True for methods made of shared passes only (Grad-CAM, gradients, ...), which ``explain_all`` can
    compute together; False for the multi-pass ones (SmoothGrad, occlusion, ...)."""
    return not issubclass(get_method(method), MultiPassMethod)


def check_version(method: type) -> str:
    """The version of a trust check's results on ``method``'s maps: the method's code, the map-making
    core and the checks' own code (see explainers.versions)."""
    return source_version(method.__module__, *MAP_CORE, *CHECK_CODE, within=("explainers", "service"))


class ExplainerService:
    """Pictures in, predictions and maps out; cached, single-flight, thread-safe."""

    def __init__(
        self,
        data_dir: str | os.PathLike | None = None,
        weights: str = "imagenet",
        weights_dir: str | os.PathLike | None = None,
        cache_items: int = 256,
        cache_bytes: int = 2 * 1024**3,
        workers: int = 2,
        max_queue: int = 60,
        backend: str = "local",
        redis_url: str | None = None,
        images: ImageStore | None = None,
        shared_cache: Any = None,
        model_files: Any = None,
    ):
        """``backend="local"`` computes in this process (the embedded default, no other service);
        ``"celery"`` sends work to Celery workers through Redis at ``redis_url`` (see service.backends)."""
        if weights not in WEIGHT_MODES:
            raise ValueError(f"weights must be one of {WEIGHT_MODES}. Received: {weights!r}.")
        chosen = make_backend(backend, self._run_job, workers=workers, max_queue=max_queue, redis_url=redis_url)
        data_dir = Path(data_dir or os.environ.get("EXPLAINERS_DATA_DIR") or Path.home() / ".cache" / "saliency")
        self.data_dir = data_dir
        self.backend = backend
        self.max_upload_bytes = MAX_UPLOAD_BYTES
        self.default_weights = weights
        self.weights_dir = weights_dir
        self.jobs = chosen.jobs
        # "is None", not "or": an empty Redis store has length 0, so it would read as false
        shared_cache = shared_cache if shared_cache is not None else chosen.shared_cache
        self.images = images or chosen.images or ImageStore(data_dir / "images")
        self.cache = ResultCache(
            None if shared_cache is not None else data_dir / "results",
            memory_items=cache_items,
            disk_bytes=cache_bytes,
            shared=shared_cache,
        )
        self._status_cache: tuple[float, dict[str, weights_mod.WeightsStatus]] | None = None
        self.device = chosen.device
        self.warm: dict[str, Any] = {"state": "not started", "errors": []}
        self._truth_index: dict[str, Path] | None = None
        self._resident: set[str] = set()  # models this service has loaded (their first use is over)
        self.speeds = SpeedLog()  # how fast this server's long maps were, for the estimate before the next
        # the admin's model folder, uploads and a notebook's model, beside the registry (service.catalogue)
        self.catalogue = ModelCatalogue(data_dir, self.model_facts, model_files or chosen.model_files)
        self.coalescer = Coalescer()  # one-pass maps of many users in one batch (EXPLAINERS_COALESCE_MS)
        self.sets = SetRuns(self)  # sets of pictures: one job per few pictures (service.sets)

    # ---- catalogue (no TensorFlow) -------------------------------------------------------------
    def models(self, client: str | None = None) -> list[dict[str, Any]]:
        """The built-in models, then the brought ones ``client`` may pick (service.catalogue)."""
        return [
            *(
                {
                    "name": spec.name,
                    "title": spec.title,
                    "input_size": spec.input_size,
                    "default_layer": spec.default_layer,
                    "blurb": spec.blurb,
                    "family": spec.family,
                }
                for spec in MODELS.values()
            ),
            *self.catalogue.listing(client),
        ]

    def add_uploaded_model(self, entry, client: str | None) -> dict[str, Any]:
        """Keep an uploaded model (``service.own_models.OwnModel``) as ``client``'s own, once it was built
        here: a file that is no usable model raises its ExplainerError in words and stays unlisted."""
        self.catalogue.add_upload(entry)
        facts = self.model_facts(entry.name, client)
        self.catalogue.files.add_owned(entry.owner, entry.name)
        return facts

    def model_facts(self, model: str, client: str | None = None) -> dict[str, Any]:
        """What the page shows about a model: input height and width, layers, recommended layer, what is
        explained ("the score before softmax" for a model ending in a softmax), and why CAM does not apply
        (None where it may). A brought model's facts come from building it once, as a job; cached."""
        entry = self.catalogue.own(model, client)
        if entry is None:
            spec = MODELS[resolve_model_name(model)]
            return {
                "name": spec.name,
                "title": spec.title,
                "input_height": spec.input_size,
                "input_width": spec.input_size,
                "channels": 3,
                "layers": self.layers(spec.name),
                "default_layer": spec.default_layer,
                "explaining": None,
                "cam": None,
                "family": spec.family,
            }
        known = self.catalogue.facts_known.get(entry.name)
        identity = self.catalogue.identity(entry)
        if known is None or known.get("identity") != identity:
            cache_key = ("facts", entry.name, identity, source_version(*MAP_CORE))
            known = self.cache.get(cache_key)
            if known is None:
                job = self.jobs.submit(
                    cache_key, {"kind": "facts", "model": entry.name}, deadline=600.0, title="loading"
                )
                known = self._wait(job, 660.0)
            known = {**known, "name": entry.name, "title": entry.title, "family": entry.source, "identity": identity}
            self.catalogue.facts_known[entry.name] = known
        return known

    @staticmethod
    def random_allowed() -> bool:
        """Whether random weights may be asked for here (``EXPLAINERS_ALLOW_RANDOM``), for the page's choice."""
        return random_weights_allowed()

    def default_model(self) -> str:
        """VGG16 where ImageNet weights are on this computer (or random weights are asked for); else the
        offline Shapes demo, which works at once."""
        if self.default_weights == "random":
            return "vgg16"
        ready = any(weights_mod.status(name, self.weights_dir).state == "ready" for name in IMAGENET_MODELS)
        return "vgg16" if ready else "shapes"

    def labels(self, model: str = "vgg16") -> list[dict[str, Any]]:
        """A model's classes for a picker: value = index, label = "281 · tabby cat (tabby)"."""
        return [{"label": label.display, "value": label.index} for label in catalogue_labels(model)]

    def search_labels(self, query: str, limit: int = 20, model: str = "vgg16") -> list[dict[str, Any]]:
        return [
            {"index": label.index, "name": label.name, "synonyms": list(label.synonyms)}
            for label in catalogue_labels(model).search(query, limit)
        ]

    @staticmethod
    def method_settings(name: str) -> dict[str, dict[str, Any]]:
        """A method's settings with default, range and help, for API clients and forms."""
        return {
            key: {
                "default": param.default,
                "minimum": param.minimum,
                "maximum": param.maximum,
                "choices": list(param.choices) if param.choices else None,
                "help": param.help,
            }
            for key, param in get_method(name).params.items()
        }

    @staticmethod
    def setting_notes(method: str, params: Mapping[str, Any] | None) -> list[str]:
        """One plain sentence per setting of ``params`` that was capped or adjusted ("n_samples was 1000; the
        largest allowed is 256, so that was used."), for the answer to whoever sent them: a map is cached and
        shared under its clamped settings, so what one caller sent is not part of it."""
        return list(get_method(method)(**dict(params or {})).notes)

    def estimate(self, model: str, method: str, params: Mapping[str, Any] | None = None) -> Estimate | None:
        """How long a map of a long method (one with efforts) would take at ``params``, before it starts;
        None for the one-pass methods. Raises ExplainerError for unknown names or bad settings."""
        method_cls = get_method(method)
        if not method_cls.efforts:
            return None
        facts = self.model_facts(model)
        work = method_cls(**dict(params or {})).work(max(facts["input_height"], facts["input_width"]))
        return self.speeds.estimate(facts["name"], method_cls.name, work)

    def layers(self, model: str) -> list[dict[str, Any]]:
        if self.catalogue.own(model) is not None:
            return list(self.model_facts(model)["layers"])
        return [
            {"name": info.name, "label": info.display, "height": info.height, "width": info.width}
            for info in static_layers(model)
        ]

    def methods(self) -> list[dict[str, Any]]:
        return [
            {
                "name": cls.name,
                "title": cls.title,
                "description": cls.description,
                "paper": cls.paper,
                "uses_layer": cls.uses_layer,
                "signed": cls.signed,
                "seeded": "seed" in cls.params,
                "card": cls.card.to_dict() if getattr(cls, "card", None) else None,
                "efforts": cls.efforts,
            }
            for cls in METHODS.values()
        ]

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
                            name, "missing", None, weights_mod.missing_message(weights_mod.IMAGENET_WEIGHTS[name])
                        )
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
        facts = self.model_facts(model)
        picture = prepare_image(self.images.get(key), (facts["input_height"], facts["input_width"]))
        if facts.get("channels") == 1:  # a grey model sees the picture in grey (ITU-R BT.601 weights)
            grey = np.round(picture @ np.array([0.299, 0.587, 0.114])).astype(np.uint8)
            picture = np.repeat(grey[..., None], 3, axis=-1)
        return picture

    # ---- computing ----------------------------------------------------------------------------
    def names(self, model: str, weights: str | None, client: str | None = None) -> tuple[str, str]:
        """(model, weights) checked: a built-in model's name resolved and its weights choice allowed; a brought
        model's name (``client``: who asks, refused another session's upload) with its own weights."""
        if self.catalogue.own(model, client) is not None:
            return self.catalogue.resolve(model), "imagenet"
        return resolve_model_name(model), self._weights(weights)

    def _weights(self, weights: str | None) -> str:
        weights = weights or self.default_weights
        if weights not in WEIGHT_MODES:
            raise UnknownNameError(f"Unknown weights {weights!r}. Choose one of: {', '.join(WEIGHT_MODES)}.")
        if weights == "random" and not random_weights_allowed():
            raise UnknownNameError(
                "Random weights are turned off on this server. Choose the trained weights, or the Shapes demo model."
            )
        return weights

    def load(self, model: str, weights: str | None = None, tune: bool = True):
        """The model, loaded once per process. ``tune``: if its passes have not been timed with XLA and in
        graph mode yet (``warm_up`` does it for the default model), do it in the background
        (``Engine.autotune``); requests meanwhile run with the model table's guess."""
        from explainers.engine import engine_for  # imports TensorFlow

        entry = self.catalogue.own(model)
        if entry is not None:  # a brought model: its own weights, whatever the page's weights choice
            loaded = self.catalogue.build(entry)
        else:
            weights = self._weights(weights)
            loaded = load_model(
                resolve_model_name(model),
                weights=None if weights == "random" else "imagenet",
                weights_dir=self.weights_dir,
            )
        self._resident.add(loaded.name)
        self.device = loaded.device
        if tune:
            engine_for(loaded).autotune(background=True)
        return loaded

    def loading_message(self, model: str) -> str | None:
        """What to say while ``model`` is loaded on its first use here ("Loading InceptionV3 (first use, about
        a minute)…"), or None once it is resident, or when models load elsewhere (Celery workers)."""
        if not isinstance(model, str) or model in self._resident or self.backend != "local":
            return None
        if model not in MODELS:
            try:
                return f"Loading {self.catalogue.own(model).title} (first use)…"
            except ExplainerError:
                return None
        spec = MODELS[model]
        title = spec.title.split(" (")[0]  # "Shapes (offline demo)" -> "Shapes": one pair of brackets
        return f"Loading {title} (first use, {'a few seconds' if spec.family == 'shapes' else 'about a minute'})…"

    def weights_identity(self, model: str, weights: str) -> str:
        """Which weights a result came from, without loading them (part of every cache key); a brought
        model's is its file's hash and its settings'."""
        entry = self.catalogue.own(model)
        if entry is not None:
            return self.catalogue.identity(entry)
        if weights == "random":
            return "random:0"
        if MODELS[model].family == "shapes":
            return shapes_weights_id(model)
        return "imagenet:" + weights_mod.IMAGENET_WEIGHTS[model].md5

    def request_predictions(
        self, key: str, model: str, weights: str | None = None, session: str | None = None, client: str | None = None
    ) -> Job:
        """The top-5 classes of a picture. They come out of the same pass as the Grad-CAM map of the top
        class (the page's first card), so this joins that job, or starts it: one forward pass and a
        backward pass to the last convolutions give both (see ``first_map``). The job's outcome is a
        MapResult whose ``meta["predictions"]`` holds the top-5; ``predict`` unpacks it."""
        model, weights = self.names(model, weights, client)
        self.images.get(key)  # refuse an unknown or forged key before queueing anything
        cached = self.cache.get(self._predict_key(key, model, weights))
        if cached is not None:
            return self.jobs.completed(self._predict_key(key, model, weights), cached, client)
        cache_key, request = self._map_request(key, model, FIRST_METHOD, None, None, weights, None)
        cached = self.cache.get(cache_key)
        if cached is not None:
            return self.jobs.completed(cache_key, cached, client)
        return self.jobs.submit(
            cache_key,
            request,
            session=session,
            deadline=get_method(FIRST_METHOD).deadline,
            client=client,
            expensive=False,
            title=get_method(FIRST_METHOD).title,
        )

    def _predict_key(self, key: str, model: str, weights: str) -> tuple:
        return ("predict", key, model, self.weights_identity(model, weights), source_version(*MAP_CORE))

    def predict(
        self,
        key: str,
        model: str,
        weights: str | None = None,
        top: int = 5,
        session: str | None = None,
        client: str | None = None,
    ) -> list[tuple[int, str, float]]:
        outcome = self._wait(self.request_predictions(key, model, weights, session, client), 180.0, client)
        predictions = outcome.meta["predictions"] if isinstance(outcome, MapResult) else outcome
        return [tuple(row) for row in predictions][: max(1, top)]

    def class_standing(self, key: str, model: str, target: int, weights: str | None = None) -> tuple[float, int] | None:
        """(probability, rank from 1) of class ``target`` for picture ``key``, once its predictions are known
        (None before, or where they came without every class's probability)."""
        model, weights = self.names(model, weights)
        return standing(self.cache.get(("ranking", *self._predict_key(key, model, weights)[1:])), target)

    def familiarity(self, key: str, model: str, weights: str | None = None) -> dict[str, Any] | None:
        """Whether picture ``key`` looks like the pictures ``model`` was trained on (see
        explainers.familiarity), with the classes it knows; None for a model that ships no statistics of
        its training pictures, or with random weights. One forward pass, as a job where maps run; cached."""
        model, weights = self.names(model, weights)
        statistics = familiarity_statistics(model)
        if statistics is None or weights == "random":
            return None
        self.images.get(key)  # refuse an unknown or forged key before queueing anything
        cache_key = (
            "familiarity",
            key,
            model,
            self.weights_identity(model, weights),
            statistics.threshold,
            source_version("explainers.familiarity", *MAP_CORE),
        )
        found = self.cache.get(cache_key)
        if found is not None:
            return found
        request = {"kind": "familiarity", "key": key, "model": model, "weights": weights}
        return self._wait(self.jobs.submit(cache_key, request, deadline=60.0), 90.0)

    def request_map(
        self,
        key: str,
        model: str,
        method: str,
        target: int | str | None = None,
        layer: str | None = None,
        weights: str | None = None,
        params: Mapping[str, Any] | None = None,
        session: str | None = None,
        together: list[str] | tuple[str, ...] = (),
        client: str | None = None,
        contrast: int | str | None = None,
        top_k: int | None = None,
    ) -> Job:
        """Start (or find in the cache, or join) the computation of one map; returns its job at once.

        Every name is checked against its allow-list and every setting validated and clamped here,
        before anything is queued: the browser (or an API client) can send anything. ``together``: the
        other methods on the same page; the one-pass ones among them are computed in the same job with
        shared forward and backward passes (``explain_all``), so their cards then come from the cache.
        ``client``: who asks (a browser's session cookie, an API caller), the job's owner or a joiner;
        ``session``: the browser tab, whose expensive jobs run one at a time. ``contrast``: a second class,
        the map then explains "why ``target`` and not it"; ``top_k``: the maps of the top k classes, one
        job, each cached as its class's own map; the result is the first (``service.views``).
        """
        self.names(model, weights, client)  # another session's upload is unknown to this client
        cache_key, request = self._map_request(key, model, method, target, layer, weights, params, contrast, top_k)
        cached = self.cache.get(cache_key)
        if cached is not None:
            return self.jobs.completed(
                cache_key, MapResult(**{**cached.__dict__, "cached": True, "seconds": 0.0}), client
            )
        cheap = one_pass(request["method"])
        if not params and cheap and not (request["contrast"] is not None or request["top_k"]):
            request["together"] = [
                name
                for name in dict.fromkeys(together or ())
                if isinstance(name, str) and name in METHODS and name != request["method"] and one_pass(name)
            ][:16]
        return self.jobs.submit(
            cache_key,
            request,
            session=session,
            deadline=get_method(method).deadline,
            client=client,
            expensive=not cheap,
            title=get_method(method).title,
        )

    def _validated(self, key, model, method, target, layer, weights, params) -> Asked:
        """Every name checked against its allow-list and every setting validated and clamped."""
        model, weights = self.names(model, weights)
        method_cls = get_method(method)
        layer_name = self._check_layer(model, layer)
        settings = method_cls(**dict(params or {})).settings
        target = None if target is None or target == "" else catalogue_labels(model).resolve(target)
        self.images.get(key)  # refuse an unknown or forged key before queueing anything
        return Asked(key, model, weights, method_cls, layer_name, settings, target)

    def _map_request(self, key, model, method, target, layer, weights, params, contrast=None, top_k=None):
        asked = self._validated(key, model, method, target, layer, weights, params)
        class_a = asked.target
        if class_a is None and contrast is not None and contrast != "":  # A is the top class: B = A refused at once
            known = self.cache.get(self._predict_key(key, asked.model, asked.weights))
            class_a = int(known[0][0]) if known else None  # else the job refuses it (explainers.api.explain)
        contrast, top_k = clean_view(asked.model, asked.method.name, class_a, contrast, top_k)
        if top_k:  # the row starts at the top class whatever class the card shows
            asked = replace(asked, target=None)
        if asked.target is not None and contrast is None:  # the top class asked by number is "the top class"
            known = self.cache.get(self._predict_key(key, asked.model, asked.weights))
            if known and int(known[0][0]) == asked.target:
                asked = replace(asked, target=None)
        tail = (method_version(asked.method), *key_extras(contrast, top_k))
        identity = self.weights_identity(asked.model, asked.weights)
        return keyed_request("map", asked, identity, key_tail=tail, contrast=contrast, top_k=top_k)

    def map_here(
        self,
        key: str,
        model: str,
        method: str,
        target=None,
        layer=None,
        weights=None,
        params=None,
        progress: Callable[[float], None] | None = None,
    ) -> MapResult:
        """One map from the cache, or computed in this thread (for work already running inside a job,
        which must not queue and wait for another job)."""
        cache_key, request = self._map_request(key, model, method, target, layer, weights, params)
        cached = self.cache.get(cache_key)
        if cached is not None:
            return cached
        return self.compute(request, progress, cache_key)

    def request_check(
        self,
        check: str,
        key: str,
        model: str,
        method: str,
        target: int | str | None = None,
        layer: str | None = None,
        weights: str | None = None,
        params: Mapping[str, Any] | None = None,
        options: Mapping[str, Any] | None = None,
        session: str | None = None,
        client: str | None = None,
    ) -> Job:
        """Start (or find in the cache, or join) one trust check of a map: "sanity", "faithfulness" or
        "stability" (see ``service.trust``). Everything is validated as for ``request_map``."""
        self.names(model, weights, client)  # another session's upload is unknown to this client
        cache_key, request = self._check_request(check, key, model, method, target, layer, weights, params, options)
        cached = self.cache.get(cache_key)
        if cached is not None:
            return self.jobs.completed(cache_key, cached, client)
        return self.jobs.submit(
            cache_key, request, session=session, deadline=DEADLINES[check], client=client, title=f"the {check} check"
        )

    def cached_check(
        self,
        check: str,
        key: str,
        model: str,
        method: str,
        target=None,
        layer=None,
        weights=None,
        params=None,
        options=None,
    ) -> dict[str, Any] | None:
        """A check's result if it was computed before (for the report), else None; never computes."""
        try:
            cache_key, _ = self._check_request(check, key, model, method, target, layer, weights, params, options)
        except ExplainerError:
            return None
        return self.cache.get(cache_key)

    def _check_request(self, check, key, model, method, target, layer, weights, params, options):
        options = check_options(check, options)
        asked = self._validated(key, model, method, target, layer, weights, params)
        tail = (tuple(sorted(options.items())), check_version(asked.method))
        identity = self.weights_identity(asked.model, asked.weights)
        return keyed_request("check", asked, identity, key_head=(check,), key_tail=tail, check=check, options=options)

    def perturbed(
        self,
        key: str,
        model: str,
        method: str,
        target=None,
        layer=None,
        weights=None,
        mode: str = "deletion",
        fraction: float = 0.0,
    ) -> np.ndarray:
        """The model's input picture with ``fraction`` of its pixels deleted (or revealed) in the order of the
        map, as the faithfulness curves see it (plain numpy: no model runs here)."""
        if mode not in {"deletion", "insertion"}:
            raise ExplainerError(f"mode must be 'deletion' or 'insertion'. Received: {mode!r}.")
        job = self.request_map(key, model, method, target, layer, weights)
        result = self._wait(job, 30.0)
        return evaluation.perturbed_image(self.model_input(key, model), result.heatmap, fraction, mode)

    def ground_truth(self, key: str) -> np.ndarray | None:
        """The true outline (bool mask) of a Shapes demo picture, or None for any other picture."""
        from PIL import Image

        if self._truth_index is None:
            index = {}
            for path in sorted(SHAPES_EXAMPLES.glob("*.png")):
                if not path.stem.endswith(".mask"):
                    index[hashlib.sha256(path.read_bytes()).hexdigest()] = path.with_suffix(".mask.png")
            self._truth_index = index
        path = self._truth_index.get(key)
        if path is None or not path.is_file():
            return None
        return np.asarray(Image.open(path).convert("L")) > 127

    def _run_job(self, request: Mapping[str, Any], job: Job) -> Any:
        """A request in a local worker thread: progress and cancel through the job, partial maps kept on it;
        a model's first load here is said in words on the job (its ``stage``) while it lasts."""

        def keep(heatmap: np.ndarray) -> None:
            job.partial = shrink(heatmap, PREVIEW_SIDE)

        loading = self.loading_message(request.get("model", ""))
        if loading:
            job.stage = loading
            try:
                self.load(request["model"], request.get("weights"))
            finally:
                job.stage = ""

        return self.compute(request, job.report, job.key, preview=keep)

    def compute(
        self,
        request: Mapping[str, Any],
        progress: Callable[[float], None] | None = None,
        cache_key=None,
        preview: Callable[[np.ndarray], None] | None = None,
    ) -> Any:
        """Run one request here and now (in a local worker thread, or in a Celery worker process), by its
        kind (``HANDLERS``); the result is cached under ``cache_key`` when one is given."""
        handler = self.HANDLERS.get(request.get("kind"))
        if handler is None:
            raise UnknownNameError(
                f"Unknown request kind {request.get('kind')!r}. Choose one of: {', '.join(self.HANDLERS)}."
            )
        return handler(self, request, progress, cache_key, preview)

    def _compute_check(
        self,
        request: Mapping[str, Any],
        progress: Callable[[float], None] | None,
        cache_key,
        preview: Callable[[np.ndarray], None] | None,
    ) -> dict[str, Any]:
        value = compute_check(self, request, progress)
        if cache_key is not None:
            self.cache.put(cache_key, value)
        return value

    def _compute_map(
        self,
        request: Mapping[str, Any],
        progress: Callable[[float], None] | None,
        cache_key,
        preview: Callable[[np.ndarray], None] | None,
    ) -> MapResult:
        if cache_key is not None:  # a job of the same page may have computed it while this one waited
            cached = self.cache.get(cache_key)
            if cached is not None:
                return MapResult(**{**cached.__dict__, "cached": True, "seconds": 0.0})
        image = self.images.get(request["key"])
        loaded = self.load(request["model"], request["weights"])
        method = get_method(request["method"])(**request["settings"])
        siblings = {}
        for name in request.get("together") or ():
            sibling_key, sibling = self._map_request(
                request["key"], request["model"], name, request["target"], request["layer"], request["weights"], None
            )
            if self.cache.get(sibling_key) is None:
                siblings[name] = sibling_key
        names, together = [request["method"], *siblings], {request["method"]: request["settings"]}
        plain = (
            request.get("contrast") is None and not request.get("top_k") and method.settings.get("source") != "layer"
        )
        if self.coalescer.on and plain and one_pass(request["method"]):  # with other users' pictures, one batch
            found = explain_together(
                self.coalescer, loaded, image, names, request["target"], request["layer"], together, progress
            )
        elif siblings:  # one-pass methods of the same page: shared forward/backward passes, one job
            found = api.explain_all(
                loaded,
                image,
                names,
                target=request["target"],
                layer=request["layer"],
                params=together,
                on_error="return",
            )
        else:
            found = None
        if found is not None:
            for name, sibling_key in siblings.items():
                if not isinstance(found[name], Exception):
                    self.cache.put(sibling_key, self._map_result(found[name], request, loaded))
            e = found[request["method"]]
            if isinstance(e, Exception):
                raise e
        elif request.get("top_k"):
            e = compute_top_k(
                loaded,
                image,
                request,
                progress,
                lambda found, target: self.cache.put(
                    self._map_request(
                        request["key"],
                        request["model"],
                        request["method"],
                        target,
                        request["layer"],
                        request["weights"],
                        request["settings"],
                    )[0],
                    self._map_result(found, request, loaded),
                ),
            )
        else:
            e = api.explain(
                loaded,
                image,
                method,
                target=request["target"],
                layer=request["layer"],
                progress=progress,
                preview=preview,
                contrast=request.get("contrast"),
            )
            if method.efforts:  # the next estimate before starting learns from this one
                budget = method.settings.get(getattr(method, "budget", ""))  # stable mode may stop before it
                work = work_done(method.work(loaded.input_size), e.meta, budget)
                self.speeds.record(request["model"], method.name, work, e.seconds)
        # every map's pass also yields the logits: keep the top-5, so the predictions cost nothing more;
        # where they are known already, a method whose passes never saw the picture itself needs none
        predict_key = self._predict_key(request["key"], request["model"], request["weights"])
        predictions = self.cache.get(predict_key)
        if predictions is None:
            predictions = [tuple(p) for p in e.predictions]
            self.cache.put(predict_key, predictions)
            probabilities = picture_probabilities(loaded, image)  # every class's, for a class outside the top 5
            if probabilities is not None:
                self.cache.put(("ranking", *predict_key[1:]), probabilities)
        value = self._map_result(e, request, loaded, predictions)
        if cache_key is not None:
            self.cache.put(cache_key, value)
        return value

    def _compute_familiarity(
        self,
        request: Mapping[str, Any],
        progress: Callable[[float], None] | None,
        cache_key,
        preview: Callable[[np.ndarray], None] | None,
    ) -> dict[str, Any]:
        value = familiarity_of(self.load(request["model"], request["weights"]), self.images.get(request["key"]))
        if value is None:  # no statistics for these weights: no claim
            return None
        value["classes"] = [label.name for label in model_labels(request["model"])]
        if cache_key is not None:
            self.cache.put(cache_key, value)
        return value

    def _compute_facts(
        self,
        request: Mapping[str, Any],
        progress: Callable[[float], None] | None,
        cache_key,
        preview: Callable[[np.ndarray], None] | None,
    ) -> dict[str, Any]:
        value = facts_of(self.load(request["model"], tune=False))
        if cache_key is not None:
            self.cache.put(cache_key, value)
        return value

    #: request kind -> how it is computed: the one dispatch of the local job runner and the Celery worker
    HANDLERS: ClassVar[dict[str, Callable[..., Any]]] = {
        "map": _compute_map,
        "check": _compute_check,
        "familiarity": _compute_familiarity,
        "activations": compute_activations,  # the layer views (service/views.py)
        "sweep": compute_sweep,
        "facts": _compute_facts,
        "set_chunk": compute_chunk,
    }

    @staticmethod
    def _map_result(e, request: Mapping[str, Any], loaded, predictions=None) -> MapResult:
        top5 = e.predictions if predictions is None else predictions
        return MapResult(
            method=e.method,
            model=request["model"],
            heatmap=e.heatmap,
            target=e.target,
            label=e.label,
            layer=e.layer,
            seconds=e.seconds,
            signed=e.signed,
            params=e.params,
            meta={
                "notes": e.meta.get("notes", []),
                "random_weights": loaded.random_weights,
                "empty": is_empty(e.heatmap),
                "device": loaded.device,
                "predictions": [list(p) for p in top5],
                **({"shared_passes": e.meta["shared_passes"]} if "shared_passes" in e.meta else {}),
                # a method's points (CNN Fixations), drawn as dots by the card: (row, column) at points_size
                **{name: e.meta[name] for name in ("points", "points_size") if name in e.meta},
                **view_meta(e.meta),
            },
        )

    def explain(
        self,
        key: str,
        model: str,
        method: str,
        target: int | str | None = None,
        layer: str | None = None,
        weights: str | None = None,
        params: Mapping[str, Any] | None = None,
        session: str | None = None,
        client: str | None = None,
        contrast: int | str | None = None,
        top_k: int | None = None,
    ) -> MapResult:
        """One map, waiting for it (from the cache when it was computed before: ``cached=True``); with
        ``top_k``, the first map of the row, the others then in the cache (``request_map``)."""
        job = self.request_map(
            key, model, method, target, layer, weights, params, session, client=client, contrast=contrast, top_k=top_k
        )
        return with_notes(
            self._wait(job, get_method(method).deadline + 30.0, client), self.setting_notes(method, params)
        )

    def _wait(self, job: Job, timeout: float, client: str | None = None):
        """The job's outcome; if it does not come in time, this caller stops waiting (others may go on)."""
        if not job.wait(timeout):
            self.jobs.cancel(job.id, "Stopped: no answer in time.", client=client)
            raise ExplainerError("This took too long and was stopped. Please try again.")
        return job.outcome()

    def warm_up(self, model: str = "vgg16", weights: str | None = None, background: bool = True) -> None:
        """Load ``model`` and trace its common passes now, so the first person does not wait for that."""

        def run():
            self.warm["state"] = "warming up"
            try:
                from explainers.engine import engine_for  # imports TensorFlow

                loaded = self.load(model, weights, tune=False)
                engine = engine_for(loaded)
                # XLA or not for the one-picture passes: measured here, before they are traced for the first user
                self.warm.update(engine.autotune(kinds=(ONE_PICTURE,)))
                height, width = getattr(loaded, "input_shape", None) or (loaded.input_size, loaded.input_size)
                blank = np.full((height, width, 3), 127, np.uint8)
                api.explain_all(loaded, blank, ["grad_cam", "vanilla_gradient", "guided_backprop"])
                self.warm.update(state="ready", model=model)
            except Exception as error:  # noqa: BLE001 - reported by /readyz, the server still serves
                self.warm.update(state="degraded", model=model)
                self.warm["errors"].append(describe_error(error))
                return
            # ready for the one-pass methods; now compile the multi-pass methods' batches too
            try:
                self.warm["batches"] = "warming up"
                self.warm.update(engine.autotune(kinds=(GRADIENT_BATCHES,)))
                engine.warm_batches(engine.chunk_size(), engine.chunk_size(forward=True))
                for method in METHODS.values():  # passes of their own (occlusion's crops), default settings
                    method().warm_up(loaded)
                self.warm["batches"] = "ready"
            except Exception as error:  # noqa: BLE001 - only costs the first multi-pass request its compile
                self.warm["batches"] = "failed"
                log.warning("warming up the multi-pass batches failed: %s", describe_error(error))

        if background:
            threading.Thread(target=run, name="warm-up", daemon=True).start()
        else:
            run()

    def health(self) -> dict[str, Any]:
        """What /readyz reports."""
        from explainers.models import loaded_models

        status, errors = self.jobs.readiness(self.warm["state"], list(self.warm["errors"]))
        if getattr(self.images, "problem", None):  # serving from memory: works, but uploads do not last
            status, errors = "degraded", [*errors, f"Pictures are kept in memory only: {self.images.problem}."]
        return {
            "status": status,
            "errors": errors,
            "backend": self.backend,
            "device": self.device,
            "models_loaded": loaded_models(),
            "queue": self.jobs.queue_length(),
            "running": self.jobs.running(),
            "computed": getattr(self.jobs, "computed", None),
            "batches": self.warm.get("batches", "not started"),
            "one_picture_passes": self.warm.get("one_picture_passes"),
            "gradient_batches": self.warm.get("gradient_batches"),
            "max_queue": self.jobs.max_queue,
            "coalescing": self.coalescer.stats(),
            "cache": self.cache.stats(),
        }

    def _check_layer(self, model: str, layer: str | None) -> str:
        facts = self.model_facts(model)
        names = [row["name"] for row in facts["layers"]]
        if layer in (None, ""):
            return facts["default_layer"]
        if layer not in names:
            raise UnknownNameError(f"{facts['title']} has no layer called {layer!r} that can be explained.")
        return layer

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
        values = result.heatmap if (result.signed and mode == "signed") else np.abs(result.heatmap)
        return render.map_scale(values, percentile)

    def preview_levels(
        self, key: str, job: Job, signed: bool, mode: str = "absolute", percentile: float = 99.0
    ) -> np.ndarray | None:
        """uint8 levels of a running (or stopped) job's partial map at display size, or None if it has none."""
        partial = getattr(job, "partial", None)
        if partial is None or job.status == "done":
            return None
        result = MapResult("", "", partial, 0, "", None, 0.0, signed, {})
        return self.display_levels(key, result, mode=mode, percentile=percentile)[0]

    def display_levels(
        self, key: str, result: MapResult, mode: str = "absolute", percentile: float = 99.0, scale: float | None = None
    ) -> tuple[np.ndarray, float]:
        """uint8 levels of ``result``'s map at display size over picture ``key`` (see render.display_map)."""
        mode = mode if result.signed else "absolute"
        shape = self.display_shape(self.images.get(key).shape)
        return render.display_map(result.heatmap, shape, mode=mode, percentile=percentile, scale=scale)

    def overlay(
        self,
        key: str,
        result: MapResult,
        *,
        colormap: str = "viridis",
        opacity: float = 0.5,
        percentile: float = 99.0,
        mode: str = "absolute",
        max_side: int = 2048,
        legend: str | None = None,
    ) -> np.ndarray:
        """The picture with ``result``'s map over it, RGB uint8, at most ``max_side`` on a side (downloads);
        with ``legend``, that title above it and the colour bar in words below it (render.with_legend)."""
        import cv2

        image = self.images.get(key)
        factor = min(1.0, max_side / max(image.shape[:2]))
        if factor < 1.0:
            image = cv2.resize(
                image, (round(image.shape[1] * factor), round(image.shape[0] * factor)), interpolation=cv2.INTER_AREA
            )
        colormap = colormap if colormap in {"viridis", "inferno", "jet", "gray"} else "viridis"
        signed = result.signed and mode == "signed"
        picture = render.overlay(
            image, result.heatmap, opacity=opacity, colormap=colormap, percentile=percentile, signed=signed
        )
        if result.meta.get("points"):  # a method's points (CNN Fixations) as dots, as its card shows them
            picture = render.draw_points(picture, result.meta["points"], result.meta["points_size"])
        return picture if legend is None else self.legend(picture, legend, colormap, signed)

    @staticmethod
    def legend(picture: np.ndarray, title: str, colormap: str = "viridis", signed: bool = False) -> np.ndarray:
        """``picture`` with ``title`` above it and the colour bar, its ends in words, below it (downloads)."""
        colormap = colormap if colormap in {"viridis", "inferno", "jet", "gray"} else "viridis"
        return render.with_legend(picture, title, colormap, signed)

    @staticmethod
    def versions() -> dict[str, str]:
        found = {"explainers": explainers.__version__}
        for package in ("tensorflow-cpu", "tensorflow", "keras", "dash", "plotly", "numpy"):
            try:
                found[package] = importlib.metadata.version(package)
            except importlib.metadata.PackageNotFoundError:
                pass
        return found


def with_notes(result: MapResult, notes: list[str]) -> MapResult:
    """``result`` with ``notes`` (a caller's capped settings) before its own; the cached one is left as it is."""
    if not notes:
        return result
    own = [note for note in result.meta.get("notes", []) if note not in notes]
    return MapResult(**{**result.__dict__, "meta": {**result.meta, "notes": [*notes, *own]}})
