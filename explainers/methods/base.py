"""What every saliency method is: a class whose constructor holds its settings and whose ``compute``
turns shared passes (see ``explainers.passes``) into maps for a batch; and the registry that lists them.

A method declares the passes it ``needs`` so that ``explain_all`` can merge them across methods; then
``compute`` reads them from ``Passes`` (asking again is free: a pass runs at most once).
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Any, ClassVar

import numpy as np

from explainers.errors import ParameterError, UnknownNameError
from explainers.ops import upsample  # noqa: F401  (imported from here by api.py and older code)
from explainers.passes import Passes, PassKey

REGISTRY: dict[str, type[Method]] = {}


def register(cls: type[Method]) -> type[Method]:
    """Class decorator: list a method under its ``name`` (the UI, CLI, API and tests read the registry)."""
    if cls.name in REGISTRY and REGISTRY[cls.name] is not cls:
        raise ValueError(f"two methods are called {cls.name!r}")
    REGISTRY[cls.name] = cls
    return cls


@dataclass(frozen=True)
class Param:
    """One setting of a method: default, allowed range or choices, and a plain-language help line."""

    default: Any
    help: str
    minimum: float | None = None
    maximum: float | None = None
    choices: tuple | None = None

    def clean(self, name: str, value: Any, notes: list[str]) -> Any:
        kind = type(self.default)
        try:
            if kind is bool:
                if isinstance(value, str):
                    if value.strip().lower() not in {"true", "false", "1", "0", "yes", "no", "on", "off"}:
                        raise ValueError
                    value = value.strip().lower() in {"true", "1", "yes", "on"}
                elif not isinstance(value, (bool, int, np.bool_)):
                    raise ValueError
                value = bool(value)
            elif kind is int:
                number = float(value)
                if not math.isfinite(number) or number != int(number):
                    raise ValueError
                value = int(number)
            elif kind is float:
                value = float(value)
                if not math.isfinite(value):
                    raise ValueError
            else:
                value = kind(value)
        except (TypeError, ValueError):
            raise ParameterError(f"The setting {name!r} must be a {kind.__name__}. Received: {value!r}.") from None
        if self.choices is not None and value not in self.choices:
            raise ParameterError(
                f"The setting {name!r} must be one of {', '.join(map(str, self.choices))}. Received: {value!r}."
            )
        if self.minimum is not None and value < self.minimum:
            notes.append(f"{name} was {value}; the smallest allowed is {self.minimum}, so that was used.")
            value = kind(self.minimum)
        if self.maximum is not None and value > self.maximum:
            notes.append(f"{name} was {value}; the largest allowed is {self.maximum}, so that was used.")
            value = kind(self.maximum)
        return value


@dataclass(frozen=True)
class MethodCard:
    """A method explained for someone who does not code: shown on the dashboard's cards, in the HTTP API
    and in the HTML report. Every registered method has one (a contract test checks it).

    ``computes``: what the map is, in 1–3 plain sentences. ``colours``: how to read the colours of THIS
    method (what bright and dark mean; for signed methods, what the for/against colours mean).
    ``pitfalls``: short sentences on known weaknesses. ``paper_url``: a link to the paper.
    ``good_for``: one sentence on when to use it.
    """

    computes: str
    colours: str
    pitfalls: tuple[str, ...]
    paper_url: str
    good_for: str

    def __post_init__(self):
        if isinstance(self.pitfalls, str):
            raise TypeError("MethodCard.pitfalls must be a tuple of sentences, not one string.")
        object.__setattr__(self, "pitfalls", tuple(self.pitfalls))

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready form (pitfalls as a list), for APIs."""
        return {
            "computes": self.computes,
            "colours": self.colours,
            "pitfalls": list(self.pitfalls),
            "paper_url": self.paper_url,
            "good_for": self.good_for,
        }


@dataclass
class Attribution:
    """What ``compute`` returns for a batch of N inputs."""

    heatmap: np.ndarray  # (N, h, w): at the input size, or at the layer's size for CAM-like methods
    attributions: np.ndarray | None = None  # (N, H, W, 3) in the preprocessed input's space, or None
    meta: dict[str, Any] = field(default_factory=dict)


class Method:
    """Base class. Subclasses set the class attributes and implement ``needs`` and ``compute``."""

    name: ClassVar[str]
    title: ClassVar[str]
    description: ClassVar[str]  # one plain-language sentence for the card
    paper: ClassVar[str]
    uses_layer: ClassVar[bool] = False  # False: the layer picker does not affect this method
    signed: ClassVar[bool] = False  # True: negative values mean "evidence against the class"
    order: ClassVar[int] = 100  # position in lists (the UI's method picker)
    deadline: ClassVar[float] = 120.0  # seconds a server lets one map of this method run
    params: ClassVar[dict[str, Param]] = {}
    #: the plain-language card (what it computes, how to read it, pitfalls, paper); no default on purpose:
    #: every registered method must write its own (tests/test_contract.py checks)
    card: ClassVar[MethodCard]
    #: settings for a rough map in a fraction of the time (previews, smoke tests); {} for one-pass methods
    quick: ClassVar[dict[str, Any]] = {}
    #: a long method's effort choice on its card: "quick", "standard" (its defaults) and "thorough", each
    #: the settings it changes; {} for one-pass methods (tests/test_contract.py checks them)
    efforts: ClassVar[dict[str, dict[str, Any]]] = {}

    def __init__(self, **params: Any):
        unknown = sorted(set(params) - set(self.params))
        if unknown:
            allowed = ", ".join(self.params) or "none"
            raise ParameterError(
                f"{self.title} has no setting {', '.join(map(repr, unknown))}. Its settings: {allowed}."
            )
        self.notes: list[str] = []
        self.settings = {
            name: param.clean(name, params.get(name, param.default), self.notes) for name, param in self.params.items()
        }

    def work(self, input_size: int) -> tuple[int, int]:
        """How many pictures of side ``input_size`` the model sees at these settings, as (forward passes only,
        passes with gradients): what a time estimate before starting multiplies by the server's speed. A
        method that may stop early with samples of unequal cost reports what it ran, in these units, in
        ``meta["passes_done"]`` (occlusion's scales); otherwise the samples used of the budget say it."""
        return 1, 1

    def warm_up(self, model) -> None:
        """Prepare now, at the server's start, what this method's first map at these settings would
        otherwise wait for (tracing its own passes). Most methods share the engine's passes: nothing."""

    def check_applicable(self, model) -> None:
        """Raise NotApplicableError (plain words) if this method cannot explain ``model``."""

    def layer_for(self, model, layer: str) -> str | None:
        """The layer this method will actually use (None for pixel-space methods, unless their
        attributions are taken at the layer: setting ``source="layer"``)."""
        return layer if self.uses_layer or self.settings.get("source") == "layer" else None

    def needs(self, model, layer: str) -> list[PassKey]:
        raise NotImplementedError

    def compute(self, passes: Passes, layer: str) -> Attribution:
        raise NotImplementedError

    def __repr__(self) -> str:
        settings = ", ".join(f"{k}={v!r}" for k, v in self.settings.items())
        return f"{type(self).__name__}({settings})"


def get_method(name: str) -> type[Method]:
    key = str(name).strip().lower().replace("-", "_").replace(" ", "_")
    if key not in REGISTRY:
        raise UnknownNameError(f"Unknown method {name!r}. Choose one of: {', '.join(REGISTRY)}.")
    return REGISTRY[key]


# ---- helpers shared by several methods ------------------------------------------------------------
def max_abs_over_channels(gradients: np.ndarray) -> np.ndarray:
    """Simonyan et al.'s reduction of an (N, H, W, 3) gradient to a map: the largest |value| per pixel."""
    return np.abs(gradients).max(axis=-1)


class PixelGradientMethod(Method):
    """A method whose map is a reduction of one input gradient (plain, guided or deconv rule).

    ``attribute`` gives its attributions for any batch of inputs, which is what wrappers such as
    SmoothGrad build on; ``to_heatmap`` reduces attributions (N, H, W, 3) to maps (N, H, W).
    """

    relu_rule: ClassVar[str] = "plain"

    def needs(self, model, layer):
        return [PassKey(None, input_grads=True, relu=self.relu_rule)]

    def from_gradients(self, gradients: np.ndarray, inputs: np.ndarray) -> np.ndarray:
        return gradients

    def to_heatmap(self, attributions: np.ndarray) -> np.ndarray:
        return max_abs_over_channels(attributions)

    def attribute(self, passes: Passes, inputs: np.ndarray, targets, progress=(0.0, 1.0), on_chunk=None) -> np.ndarray:
        """Attributions of many inputs; ``on_chunk(start, stop, attributions)`` sees each chunk's."""

        def each(start: int, stop: int, gradients: np.ndarray) -> None:
            on_chunk(start, stop, self.from_gradients(gradients, inputs[start:stop]))

        gradients = passes.batch(
            PassKey(None, input_grads=True, relu=self.relu_rule),
            inputs,
            targets,
            progress=progress,
            on_chunk=each if on_chunk is not None else None,
        )
        return self.from_gradients(gradients, inputs)

    def compute(self, passes, layer):
        gradients = passes.get(self.needs(passes.model, layer)[0]).input_grads
        attributions = self.from_gradients(gradients, passes.inputs)
        return Attribution(self.to_heatmap(attributions), attributions)


class PerPictureMethod(Method):
    """A method that explains one picture at a time, because its own batches are that picture's samples
    (noisy copies, path points, masks). Subclasses implement ``explain_one`` (the one hook); ``compute``
    runs it for each picture, gives each its share of the progress, and stacks the maps."""

    def explain_one(
        self, passes: Passes, index: int, target: int, span: tuple[float, float], layer: str | None
    ) -> Attribution:
        """The map of picture ``index`` for class ``target``: an Attribution of that one picture
        (heatmap (h, w), attributions (H, W, 3) or None, meta). ``span``: the (start, end) fraction of
        the whole work this picture's batches report progress in (pass it to ``passes.batch``);
        ``layer``: the layer asked for (most methods ignore it)."""
        raise NotImplementedError

    def compute(self, passes, layer):
        targets = passes.resolved_targets
        count = len(passes.inputs)
        results = [
            self.explain_one(passes, i, int(targets[i]), (i / count, (i + 1) / count), layer) for i in range(count)
        ]
        attributions = None if results[0].attributions is None else np.stack([r.attributions for r in results])
        meta = dict(results[0].meta)
        if count > 1:
            meta["per_image"] = [r.meta for r in results]
        return Attribution(np.stack([r.heatmap for r in results]), attributions, meta)


class MultiPassMethod(PerPictureMethod):
    """A per-picture method that needs from the shared passes only the target (SmoothGrad, integrated
    gradients, occlusion, RISE, ...): the service computes it in a job of its own, never alongside the
    one-pass methods. A new one is one file: a subclass with its settings and ``explain_one``."""

    deadline = 600.0

    def needs(self, model, layer):
        return [PassKey()]


#: when a sampling method stops: after its count of samples, or once its map stops changing
UNTIL = ("count", "stable")


def stable_params(count: str) -> dict[str, Param]:
    """The settings of ``until="stable"`` (``explainers.convergence``); ``count`` names the method's own
    count setting, which in stable mode is the most it may use."""
    return {
        "until": Param(
            "count",
            f"When to stop: after {count} (count, repeatable as in the papers), or once the map stops changing "
            f"(stable; {count} is then the most it may use).",
            choices=UNTIL,
        ),
        "agreement": Param(
            0.99,
            "Stable mode: how alike two maps one chunk apart must be (Spearman ρ on a 32 × 32 grid).",
            minimum=0.5,
            maximum=1.0,
        ),
        "patience": Param(2, "Stable mode: how many chunks in a row must agree.", minimum=1, maximum=10),
        "max_seconds": Param(120.0, "Stable mode: the most seconds it may take.", minimum=0.1, maximum=3600.0),
    }


class SamplingMethod(MultiPassMethod):
    """A multi-pass method whose map is an estimate from random samples (SmoothGrad, RISE, LIME, ...).

    With ``until="count"`` it runs ``explain_count`` (its fixed count of samples); with ``until="stable"``
    it runs ``steps``, the one hook: a lazy sequence of (samples so far, running Attribution), one item per
    chunk, that ``explainers.convergence.run_until_stable`` stops when the map stops changing or at the
    budget. What happened goes into ``meta`` and one line of the card's notes."""

    #: the setting that counts samples (in stable mode: the most it may use), and what a sample is called
    budget: ClassVar[str] = "n_samples"
    unit: ClassVar[str] = "samples"
    #: samples per chunk in stable mode (fewer if the budget would give fewer than four chunks)
    chunk: ClassVar[int] = 8
    #: its ``steps`` run ``chunk_bounds``'s chunks (integrated gradients, SHAP and occlusion run levels of their own)
    chunked: ClassVar[bool] = True

    def explain_count(self, passes: Passes, index: int, target: int, span, layer) -> Attribution:
        raise NotImplementedError

    def steps(self, passes: Passes, index: int, target: int, span, chunk: int):
        """Yield (samples so far, Attribution of the samples so far) after each chunk of ``chunk`` samples,
        up to ``self.settings[self.budget]`` samples; each chunk reports progress within ``span``."""
        raise NotImplementedError

    def done(self, result: Attribution) -> bool:
        """A method's own condition for stopping, besides a stable map (integrated gradients: completeness)."""
        return True

    def explain_one(self, passes, index, target, span, layer):
        from explainers.convergence import StopRule, chunk_bounds, describe, run_until_stable, stable_chunk

        settings = self.settings
        # attributions at a layer (``source="layer"``) run their fixed count: stable mode samples the pixels
        if settings.get("until") != "stable" or settings.get("source") == "layer":
            return self.explain_count(passes, index, target, span, layer)
        total = int(settings[self.budget])
        chunk = stable_chunk(self.chunk, total)
        rule = StopRule(settings["agreement"], settings["patience"], total, settings["max_seconds"])
        on_step = (lambda result: passes.preview(result.heatmap)) if passes.wants_preview else None
        sizes = [stop - start for start, stop in chunk_bounds(total, chunk)] if self.chunked else None
        result, stop = run_until_stable(
            self.steps(passes, index, target, span, chunk), rule, done=self.done, on_step=on_step, sizes=sizes
        )
        result.meta.update(stop)
        result.meta["notes"] = [*result.meta.get("notes", []), describe(stop, self.unit)]
        return result


def sampler_param(default: str, choices: tuple[str, ...], better: str) -> Param:
    """How a sampling method draws its random numbers: ``plain`` as in its paper, or ``better``."""
    return Param(
        default, f"How the random numbers are drawn: plain (independent, as in the paper) or {better}.", choices=choices
    )


def seed_param(what: str) -> Param:
    return Param(0, f"Seed of {what}: the same seed gives the same map.", minimum=0, maximum=2**31 - 1)


class CamMethod(Method):
    """The CAM family: a map Σₖ wₖ·Aₖ over a layer's channels Aₖ, differing only in how w is computed.

    Subclasses implement ``channel_weights`` (the one hook), returning weights per channel (N, K) or
    per position and channel (N, h, w, K); the base class does the pass, the weighted sum and the ReLU.
    """

    uses_layer = True
    params = {"relu": Param(True, "Keep only the positive part (regions that speak for the class).")}

    def needs(self, model, layer):
        return [PassKey(layer, layer_grads=True)]

    def channel_weights(self, activations: np.ndarray, gradients: np.ndarray) -> np.ndarray:
        raise NotImplementedError

    def compute(self, passes, layer):
        result = passes.get(PassKey(layer, layer_grads=True))
        weights = self.channel_weights(result.activations, result.layer_grads)
        if weights.ndim == 2:
            weights = weights[:, None, None, :]
        cam = (weights * result.activations).sum(axis=-1, dtype=np.float64).astype(np.float32)
        if self.settings["relu"]:
            cam = np.maximum(cam, 0.0)
        return Attribution(cam, None, {"layer_resolution": list(cam.shape[1:])})
