"""Numerics shared by several saliency methods, or by a method and the evaluation: probabilities from
logits, pictures to cover parts of a photo with, resizing maps, the path integral of integrated
gradients, and statistics over samples kept as the samples come (SmoothGrad and its siblings).

A helper used by two methods belongs to neither of them, so it lives here. Plain numpy (OpenCV is
imported where a function needs it; no TensorFlow), so every function can be tested on hand-made
arrays in milliseconds (tests/test_golden.py).
"""

from __future__ import annotations

from typing import Any

import numpy as np

from explainers.pass_keys import PassKey

#: what can cover a part of a picture (``fill_picture``)
FILLS = ("grey", "mean", "blur")


# ---- probabilities --------------------------------------------------------------------------------
def softmax(logits: np.ndarray) -> np.ndarray:
    """Probabilities over the last axis, in the logits' own dtype (the largest logit is taken off
    first, so large logits do not overflow)."""
    z = logits - logits.max(axis=-1, keepdims=True)
    e = np.exp(z)
    return e / e.sum(axis=-1, keepdims=True)


def probabilities(logits: np.ndarray, activation: str = "softmax") -> np.ndarray:
    """A model's class probabilities from its scores, in the scores' own dtype: a softmax over the last
    axis, or for a multi-label model (``activation="sigmoid"``) each class's own sigmoid, which does not
    depend on the other classes' scores (``ExplainableModel.output_activation`` says which)."""
    if activation == "sigmoid":
        return 0.5 * (1.0 + np.tanh(0.5 * logits))  # σ(z), never overflowing
    return softmax(logits)


# ---- pictures -------------------------------------------------------------------------------------
def blur(picture: np.ndarray, sigma: float) -> np.ndarray:
    """A Gaussian blur of an (H, W, 3) picture with standard deviation ``sigma`` pixels."""
    import cv2

    return cv2.GaussianBlur(picture, (0, 0), sigmaX=sigma, sigmaY=sigma)


def fill_picture(picture: np.ndarray, fill: str) -> np.ndarray:
    """What covers a part of ``picture`` (float32, same shape): plain grey, the picture's mean colour,
    or the picture blurred by a twentieth of its longer side."""
    picture = picture.astype(np.float32)
    if fill == "grey":
        return np.full_like(picture, 127.5)
    if fill == "mean":
        return np.broadcast_to(picture.mean(axis=(0, 1)), picture.shape).astype(np.float32)
    return blur(picture, max(picture.shape[:2]) / 20)


def upsample(maps: np.ndarray, size: int | tuple[int, int]) -> np.ndarray:
    """Resize a batch of maps (N, h, w) to (N, H, W) with bilinear interpolation (identity if equal)."""
    import cv2

    height, width = (size, size) if isinstance(size, int) else size
    maps = np.asarray(maps, np.float32)
    if maps.shape[1:] == (height, width):
        return maps
    return np.stack([cv2.resize(m, (width, height), interpolation=cv2.INTER_LINEAR) for m in maps])


# ---- the path integral of integrated gradients ----------------------------------------------------
def gauss_lobatto(points: int) -> tuple[np.ndarray, np.ndarray]:
    """Gauss–Lobatto nodes and weights on [−1, 1]: both ends plus the ``points`` − 2 roots of P′ₙ₋₁
    (n = ``points``), exact for polynomials up to degree 2n − 3.

    The inner nodes are the eigenvalues of the Jacobi matrix of the Jacobi polynomials with α = β = 1
    (whose roots those are; off-diagonal k: √(k(k + 2) / ((2k + 1)(2k + 3)))), which stays accurate for
    hundreds of nodes; the weights are 2 / (n(n − 1) Pₙ₋₁(xᵢ)²).
    """
    if points < 2:
        raise ValueError(f"Gauss–Lobatto needs at least 2 points. Received: {points}.")
    k = np.arange(1, points - 2, dtype=np.float64)
    jacobi = np.diag(np.sqrt(k * (k + 2) / ((2 * k + 1) * (2 * k + 3))), 1)
    inner = np.linalg.eigvalsh(jacobi + jacobi.T) if points > 2 else np.empty(0)
    nodes = np.concatenate([[-1.0], np.sort(inner), [1.0]])
    legendre = np.polynomial.legendre.legval(nodes, np.eye(points)[points - 1])
    return nodes, 2.0 / (points * (points - 1) * legendre**2)


def quadrature(rule: str, steps: int) -> tuple[np.ndarray, np.ndarray]:
    """Nodes α in [0, 1] and weights summing to 1 for ∫₀¹ g(α) dα with ``steps`` evaluations.

    Gauss–Lobatto and the trapezoid rule put nodes at α = 0 and 1, so the path's own
    passes also give f(x′) and f(x); Gauss–Lobatto with one step falls back to the midpoint.
    """
    if rule == "gauss_lobatto" and steps >= 2:
        nodes, weights = gauss_lobatto(steps)
        return (nodes + 1) / 2, weights / 2
    if rule in {"gauss_legendre", "gauss_lobatto"}:
        nodes, weights = np.polynomial.legendre.leggauss(steps)
        return (nodes + 1) / 2, weights / 2
    if rule == "trapezoid":
        if steps == 1:
            return np.array([0.5]), np.array([1.0])
        nodes = np.linspace(0.0, 1.0, steps)
        weights = np.full(steps, 1.0 / (steps - 1))
        weights[[0, -1]] /= 2
        return nodes, weights
    if rule == "riemann_left":
        return np.arange(steps) / steps, np.full(steps, 1.0 / steps)
    raise ValueError(f"unknown quadrature {rule!r}")


def spread_order(count: int, stride: int = 4) -> np.ndarray:
    """Path points in an order that covers the whole path early (0, 4, 8, ..., then 1, 5, 9, ...), so
    the average over the points done so far is already a fair preview of the final one."""
    return np.concatenate([np.arange(start, count, stride) for start in range(min(stride, count))])


def integrate(
    passes,
    x: np.ndarray,
    baseline: np.ndarray,
    target: int,
    rule: str,
    steps: int,
    span: tuple[float, float],
    preview: bool = False,
    ends: dict | None = None,
) -> np.ndarray:
    """(x − x′) × Σ wᵢ ∇f(x′ + αᵢ(x − x′)): the integrated-gradients attributions of one input, its
    path's input gradients computed by ``passes.batch`` (integrated gradients and XRAI share this).

    If the rule has nodes at α = 0 and 1 and ``ends`` is a dict, the logits of those two passes are
    put in it (``ends["baseline"]``, ``ends["input"]``): f(x′) and f(x) at no extra cost.
    """
    nodes, weights = quadrature(rule, steps)
    order = spread_order(steps)
    # float32 throughout, as the gradients come: a weighted sum of at most 512 gradients loses nothing
    # the completeness error could see (~1e-7 relative), and a float64 copy of each gradient costs time
    nodes, weights = nodes[order], weights[order].astype(np.float32)
    difference = np.asarray(x - baseline, np.float32)
    path = np.asarray(baseline[None] + nodes[:, None, None, None].astype(np.float32) * difference[None], np.float32)
    path[nodes == 0.0], path[nodes == 1.0] = baseline, x  # exactly the end points (no rounding)
    with_ends = ends is not None and {0.0, 1.0} <= set(nodes.tolist())
    sums = {"gradient": 0.0, "weight": 0.0}

    def running(start: int, stop: int, values) -> None:
        gradients = values[0] if with_ends else values
        sums["gradient"] = sums["gradient"] + np.tensordot(weights[start:stop], gradients, axes=1)
        sums["weight"] += float(weights[start:stop].sum(dtype=np.float64))
        passes.preview((difference * sums["gradient"] / sums["weight"]).sum(axis=-1))

    fields = ("input_grads", "logits") if with_ends else "input_grads"
    values = passes.batch(
        PassKey(None, input_grads=True),
        path,
        target,
        field=fields,
        progress=span,
        on_chunk=running if preview and passes.wants_preview else None,
    )
    gradients = values[0] if with_ends else values
    if with_ends:
        logits = values[1]
        ends["baseline"], ends["input"] = logits[nodes == 0.0][0], logits[nodes == 1.0][0]
    average = np.tensordot(weights, gradients, axes=1)
    return difference * average


class NestedPath:
    """The mean of g over [0, 1] from nodes α = j / N (j = 1 .. N − 1) that double with each level
    (N = 2^level), so a refinement reuses every gradient already computed.

    Each level's estimate is the open trapezoid rule h (3/2 g₁ + g₂ + … + g_{N−2} + 3/2 g_{N−1}), whose
    error falls as h² (exact for straight lines); from the second level on, one Richardson step
    (4 Tₙ − Tₙ₋₁) / 3 cancels that h² term. It keeps a running sum, the two outermost nodes' values and
    the last estimate, however many levels (adaptive integrated gradients).
    """

    def __init__(self, first_level: int = 2):
        self.level = first_level - 1
        self.total: Any = 0.0
        self.outer: tuple[Any, Any] = (0.0, 0.0)
        self.previous: Any = None  # the open-trapezoid estimate one level coarser
        self.current: Any = None

    def next_nodes(self) -> np.ndarray:
        """The α of the next level's new nodes: all of them at the first level, then the odd j / N."""
        first = self.current is None
        self.level += 1
        count = 2**self.level
        return np.arange(1, count, 1 if first else 2) / count

    def add(self, gradients: np.ndarray) -> None:
        """Fold in g at the nodes ``next_nodes`` just gave, in their order (axis 0)."""
        self.total = self.total + gradients.sum(axis=0, dtype=np.float64)
        self.outer = (gradients[0], gradients[-1])  # j = 1 and j = N − 1 are new at every level
        self.previous = self.current
        self.current = (self.total + 0.5 * (self.outer[0] + self.outer[1])) / 2**self.level

    @property
    def evaluations(self) -> int:
        """Nodes used so far (2^level − 1)."""
        return 2**self.level - 1

    def mean(self) -> np.ndarray:
        """The estimate of ∫₀¹ g(α) dα from every node so far."""
        if self.previous is None:
            return self.current
        return (4 * self.current - self.previous) / 3


# ---- statistics over samples (SmoothGrad and its siblings) ----------------------------------------
class SampleStatistic:
    """A statistic over samples (axis 0): online, chunk by chunk, for the partial maps (``start``,
    ``update``, ``finish``), and over all the samples at once for the final value (``of``).

    The online state accumulates in float64; ``of`` makes no float64 copy of the samples, so the two
    agree to float32 rounding, not bit for bit (the partial maps are previews, the final map is ``of``).
    """

    def start(self) -> dict[str, Any]:
        """The state before any sample: the count and the running sums the statistic needs."""
        return {"count": 0}

    def update(self, state: dict[str, Any], samples: np.ndarray) -> None:
        """Fold a chunk of samples (n, ...) into ``state``."""
        state["count"] += len(samples)

    def finish(self, state: dict[str, Any]) -> np.ndarray:
        """The statistic (float32) of the samples folded in so far."""
        raise NotImplementedError

    def of(self, samples: np.ndarray) -> np.ndarray:
        """The statistic (float32) of all ``samples`` (n, ...)."""
        raise NotImplementedError


class Mean(SampleStatistic):
    """The mean, accumulated in float64."""

    def start(self):
        return {"count": 0, "sum": 0.0}

    def update(self, state, samples):
        super().update(state, samples)
        state["sum"] = state["sum"] + samples.astype(np.float64).sum(axis=0)

    def finish(self, state):
        return (state["sum"] / state["count"]).astype(np.float32)

    def of(self, samples):
        return samples.mean(axis=0, dtype=np.float64).astype(np.float32)


class MeanOfSquares(SampleStatistic):
    """The mean of the squares (the second moment about zero)."""

    def start(self):
        return {"count": 0, "squares": 0.0}

    def update(self, state, samples):
        super().update(state, samples)
        state["squares"] = state["squares"] + (samples.astype(np.float64) ** 2).sum(axis=0)

    def finish(self, state):
        return (state["squares"] / state["count"]).astype(np.float32)

    def of(self, samples):
        # one float32 multiply-and-add per sample, no array of squares
        return np.einsum("i...,i...->...", samples, samples) / np.float32(len(samples))


class Variance(SampleStatistic):
    """The population variance: online from the first two moments (floored at 0 against rounding),
    at the end in two passes over the samples (mean first, so no cancellation)."""

    def start(self):
        return {"count": 0, "sum": 0.0, "squares": 0.0}

    def update(self, state, samples):
        super().update(state, samples)
        values = samples.astype(np.float64)
        state["sum"] = state["sum"] + values.sum(axis=0)
        state["squares"] = state["squares"] + (values**2).sum(axis=0)

    def finish(self, state):
        mean, squares = state["sum"] / state["count"], state["squares"] / state["count"]
        return np.maximum(squares - mean**2, 0.0).astype(np.float32)

    def of(self, samples):
        return samples.var(axis=0)


__all__ = [
    "FILLS",
    "Mean",
    "MeanOfSquares",
    "NestedPath",
    "SampleStatistic",
    "Variance",
    "blur",
    "fill_picture",
    "gauss_lobatto",
    "integrate",
    "quadrature",
    "softmax",
    "spread_order",
    "upsample",
]
