"""Golden tests of the methods' hooks and shared numerics, with no TensorFlow: a stub stands in for
``Passes`` and returns hand-made activations, gradients and logits; every expected array is written
out as worked on paper (in the comments), never recomputed by the code under test. Milliseconds each.
"""

import subprocess
import sys
from types import SimpleNamespace

import numpy as np
import pytest

from explainers.methods import METHODS
from explainers.methods.base import Attribution, MultiPassMethod
from explainers.methods.grad_cam import GradCam
from explainers.methods.grad_cam_plus_plus import GradCamPlusPlus
from explainers.methods.layer_cam import LayerCam
from explainers.methods.smoothgrad import SmoothGrad, SquareGrad, VarGrad
from explainers.ops import Mean, MeanOfSquares, Variance, fill_picture, integrate, quadrature, softmax
from explainers.passes import PassKey, PassResult

SUBJECTS = (
    "explainers.ops",
    "explainers.methods",
    "explainers.methods.base",
    "explainers.methods.grad_cam",
    "explainers.methods.grad_cam_plus_plus",
    "explainers.methods.layer_cam",
    "explainers.methods.smoothgrad",
    "explainers.passes",
)


class StubPasses:
    """What a method reads from ``Passes``, hand-made: ``result`` for ``get``; ``batch`` answers
    ``gradient(inputs)`` / ``logit(inputs)`` (a function known on paper) in chunks of ``chunk`` rows."""

    def __init__(self, inputs, targets, result=None, gradient=None, logit=None, chunk=2, input_range=1.0):
        self.inputs = np.asarray(inputs, np.float32)
        self.pictures = self.inputs
        self.resolved_targets = np.asarray(targets, np.int32)
        self.result, self.gradient, self.logit, self.chunk = result, gradient, logit, chunk
        self.model = SimpleNamespace(input_range=lambda: input_range)
        self.asked: list[PassKey] = []
        self.previews: list[np.ndarray] = []
        self.progress: list[float] = []
        self.wants_preview = True

    def get(self, key):
        self.asked.append(key)
        return self.result

    def batch(self, key, inputs, targets, field="input_grads", progress=(0.0, 1.0), chunk=None, on_chunk=None):
        self.asked.append(key)
        fields = (field,) if isinstance(field, str) else field
        answers = {"input_grads": self.gradient, "logits": self.logit}
        values = [np.asarray(answers[name](inputs), np.float32) for name in fields]
        start, end = progress
        for a in range(0, len(inputs), self.chunk):
            b = min(a + self.chunk, len(inputs))
            if on_chunk is not None:
                part = tuple(v[a:b] for v in values)
                on_chunk(a, b, part[0] if isinstance(field, str) else part)
            self.progress.append(start + (end - start) * b / len(inputs))
        return values[0] if isinstance(field, str) else tuple(values)

    def preview(self, heatmap):
        self.previews.append(np.asarray(heatmap, np.float32))


def test_the_golden_subjects_import_no_tensorflow():
    code = f"import sys\nfor name in {SUBJECTS!r}: __import__(name)\nprint('tensorflow' in sys.modules)"
    answer = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert answer.stdout.strip() == "False"


# ---- the CAM family: channel weights and map from one pass ----------------------------------------
# one picture, a 2 × 2 layer with 2 channels:
#   A₀ = [[1, 2], [3, 4]]    A₁ = [[2, 1], [1, 0]]      (sums 10 and 4)
#   G₀ = [[1, 1], [1, 1]]    G₁ = [[-2, 1], [0, -2]]
ACTIVATIONS = np.stack([[[1, 2], [3, 4]], [[2, 1], [1, 0]]], axis=-1)[None].astype(np.float32)
GRADIENTS = np.stack([[[1, 1], [1, 1]], [[-2, 1], [0, -2]]], axis=-1)[None].astype(np.float32)


def cam_passes():
    return StubPasses(np.zeros((1, 4, 4, 3)), [0], PassResult(np.zeros((1, 3)), np.array([0]), ACTIVATIONS, GRADIENTS))


def test_grad_cam_weights_by_the_mean_gradient():
    # w = (mean G₀, mean G₁) = (1, -3/4); A₀ − ¾A₁ = [[-1/2, 5/4], [9/4, 4]], ReLU cuts the -1/2
    np.testing.assert_array_equal(GradCam().channel_weights(ACTIVATIONS, GRADIENTS), [[1.0, -0.75]])
    passes = cam_passes()
    result = GradCam().compute(passes, "layer")
    np.testing.assert_array_equal(result.heatmap, [[[0.0, 1.25], [2.25, 4.0]]])
    assert result.meta == {"layer_resolution": [2, 2]} and result.attributions is None
    assert passes.asked == [PassKey("layer", layer_grads=True)]
    np.testing.assert_array_equal(
        GradCam(relu=False).compute(cam_passes(), "layer").heatmap, [[[-0.5, 1.25], [2.25, 4.0]]]
    )


def test_grad_cam_plus_plus_weights_positive_gradients_by_their_alphas():
    # α = g² / (2g² + ΣA·g³) where the denominator is not 0; w = Σ α·ReLU(g)
    # channel 0: g = 1, ΣA = 10: α = 1/12 at 4 positions, w₀ = 4/12 = 1/3
    # channel 1: only g = 1 at (0, 1) counts, ΣA = 4: α = 1/6, w₁ = 1/6
    # map: A₀/3 + A₁/6 = [[2/3, 5/6], [7/6, 4/3]]
    np.testing.assert_allclose(GradCamPlusPlus().channel_weights(ACTIVATIONS, GRADIENTS), [[1 / 3, 1 / 6]], rtol=1e-6)
    np.testing.assert_allclose(
        GradCamPlusPlus().compute(cam_passes(), "layer").heatmap, [[[2 / 3, 5 / 6], [7 / 6, 4 / 3]]], rtol=1e-6
    )


def test_layer_cam_weights_each_position_by_its_positive_gradient():
    # ReLU(G₁) = [[0, 1], [0, 0]]: A₀ + A₁·ReLU(G₁) = [[1, 3], [3, 4]]
    np.testing.assert_array_equal(LayerCam().channel_weights(ACTIVATIONS, GRADIENTS)[0, ..., 1], [[0, 1], [0, 0]])
    np.testing.assert_array_equal(LayerCam().compute(cam_passes(), "layer").heatmap, [[[1.0, 3.0], [3.0, 4.0]]])


# ---- SmoothGrad's statistics ------------------------------------------------------------------------
# samples (4 × 2): column means (1, 1), means of squares (12/4, 24/4) = (3, 6), variances (2, 5);
# the first chunk of two alone: means (2, -1), squares (5, 2), variances (1, 1)
SAMPLES = np.array([[1, -2], [3, 0], [-1, 2], [1, 4]], np.float32)


@pytest.mark.parametrize(
    "statistic, first_two, all_four",
    [(Mean(), [2, -1], [1, 1]), (MeanOfSquares(), [5, 2], [3, 6]), (Variance(), [1, 1], [2, 5])],
)
def test_statistics_online_and_over_all_samples(statistic, first_two, all_four):
    state = statistic.start()
    statistic.update(state, SAMPLES[:2])
    np.testing.assert_array_equal(statistic.finish(state), first_two)
    statistic.update(state, SAMPLES[2:])
    assert state["count"] == 4
    for value in (statistic.finish(state), statistic.of(SAMPLES)):
        assert value.dtype == np.float32
        np.testing.assert_array_equal(value, all_four)


# the noisy copies' gradients: cₖ × P for c = (1, 3, -1, 1) (mean 1, mean of squares 3, variance 2;
# the first chunk: 2, 5, 1) and one 1 × 2 picture's pattern P = [[1, -1, 0], [0, 2, 1]] whose squares
# sum to (2, 5) per pixel; whatever the noise, the stub answers these
PATTERN = np.array([[[1, -1, 0], [0, 2, 1]]], np.float32)
SCALES = np.array([1, 3, -1, 1], np.float32)


def noisy_passes():
    return StubPasses(np.zeros((1, 1, 2, 3)), [0], gradient=lambda inputs: SCALES[:, None, None, None] * PATTERN)


@pytest.mark.parametrize(
    "method, attributions, heatmap, first_preview",
    [
        (SmoothGrad, PATTERN, [[1, 2]], [[2, 4]]),  # the base's map: max |value| over colours, of 1·P (of 2·P)
        (SquareGrad, 3 * PATTERN**2, [[6, 15]], [[10, 25]]),  # 3·(2, 5), the first chunk 5·(2, 5)
        (VarGrad, 2 * PATTERN**2, [[4, 10]], [[2, 5]]),  # 2·(2, 5), the first chunk 1·(2, 5)
    ],
)
def test_noisy_copies_statistic_map_and_partial_maps(method, attributions, heatmap, first_preview):
    passes = noisy_passes()
    result = method(n_samples=4).compute(passes, "layer")
    np.testing.assert_array_equal(result.attributions, attributions[None])
    np.testing.assert_array_equal(result.heatmap, [heatmap])
    assert len(passes.previews) == 2
    np.testing.assert_array_equal(passes.previews[0], first_preview)
    np.testing.assert_array_equal(passes.previews[1], heatmap)
    assert passes.progress == [0.5, 1.0]


# ---- the path integral of integrated gradients ------------------------------------------------------
# f(x) = Σ xᵢ³ / 3, ∇f = x²; from the baseline 0 the path point α·x has gradient α²x², so
# IGᵢ = xᵢ · xᵢ² ∫₀¹ α² dα = xᵢ³ / 3 (exact for 2 Gauss–Legendre nodes, exact up to degree 3)
X = np.array([[[1, 2, -3]]], np.float32)


def path_passes():
    return StubPasses(
        X[None], [0], gradient=lambda path: path**2, logit=lambda path: (path**3).sum(axis=(1, 2, 3))[:, None] / 3
    )


def test_quadrature_nodes_and_weights():
    # Gauss–Legendre, 2 nodes: α = (1 ∓ 1/√3)/2, weights ½; Gauss–Lobatto, 3 nodes: Simpson's rule
    nodes, weights = quadrature("gauss_legendre", 2)
    np.testing.assert_allclose(nodes, [0.21132486540518713, 0.7886751345948129], rtol=1e-12)
    np.testing.assert_allclose(weights, [0.5, 0.5], rtol=1e-12)
    nodes, weights = quadrature("gauss_lobatto", 3)
    np.testing.assert_allclose(nodes, [0, 0.5, 1], atol=1e-12)
    np.testing.assert_allclose(weights, [1 / 6, 4 / 6, 1 / 6], rtol=1e-12)
    np.testing.assert_array_equal(quadrature("riemann_left", 4)[0], [0, 0.25, 0.5, 0.75])


@pytest.mark.parametrize(
    "rule, steps, expected",
    [
        ("gauss_legendre", 2, [1 / 3, 8 / 3, -9]),  # x³/3
        ("riemann_left", 2, [1 / 8, 1, -27 / 8]),  # nodes 0, ½ with weights ½: x · ½ · ¼x² = x³/8
        ("trapezoid", 3, [3 / 8, 3, -81 / 8]),  # nodes 0, ½, 1 with weights ¼, ½, ¼: x · (⅛ + ¼)x² = 3x³/8
    ],
)
def test_integrate_on_a_function_known_on_paper(rule, steps, expected):
    passes = path_passes()
    ends: dict = {}
    attributions = integrate(passes, X, np.zeros_like(X), 0, rule, steps, (0.2, 0.6), preview=True, ends=ends)
    np.testing.assert_allclose(attributions, [[expected]], rtol=1e-6)
    np.testing.assert_allclose(passes.previews[-1], [[sum(expected)]], rtol=1e-6)  # the last preview: the sum
    assert passes.progress[-1] == pytest.approx(0.6)
    if rule == "trapezoid":  # nodes at both ends: f(0) = 0 and f(x) = (1 + 8 − 27)/3 = −6 for free
        np.testing.assert_allclose([ends["baseline"], ends["input"]], [[0.0], [-6.0]], atol=1e-6)
    else:
        assert ends == {}


# ---- the per-picture loop of multi-pass methods -------------------------------------------------------
class Echo(MultiPassMethod):
    """A multi-pass method that is one hook: picture i's map is filled with 10·i + its target."""

    name = "echo"

    def explain_one(self, passes, index, target, span, layer):
        return Attribution(np.full((2, 2), 10 * index + target, np.float32), None, {"span": span, "layer": layer})


def test_a_multi_pass_method_is_one_hook_the_base_loops_spans_and_stacks():
    result = Echo().compute(StubPasses(np.zeros((3, 2, 2, 3)), [4, 0, 2]), "block")
    np.testing.assert_array_equal(result.heatmap, np.array([4, 10, 22], np.float32)[:, None, None] * np.ones((2, 2)))
    assert result.heatmap.dtype == np.float32 and result.attributions is None
    spans = [(0.0, 1 / 3), (1 / 3, 2 / 3), (2 / 3, 1.0)]
    assert result.meta == {
        "span": spans[0],
        "layer": "block",
        "per_image": [{"span": span, "layer": "block"} for span in spans],
    }
    alone = Echo().compute(StubPasses(np.zeros((1, 2, 2, 3)), [7]), None)
    np.testing.assert_array_equal(alone.heatmap, np.full((1, 2, 2), 7))
    assert alone.meta == {"span": (0.0, 1.0), "layer": None}  # one picture: no per-picture list
    assert Echo().needs(None, "block") == [PassKey()] and "echo" not in METHODS


# ---- probabilities and fills ------------------------------------------------------------------------
def test_softmax_keeps_the_dtype_and_survives_large_logits():
    probabilities = softmax(np.array([[0.0, np.log(3.0)], [1000.0, 1000.0]]))
    np.testing.assert_allclose(probabilities, [[0.25, 0.75], [0.5, 0.5]], rtol=1e-12)
    assert softmax(np.array([[1.0, 2.0]], np.float32)).dtype == np.float32


def test_fill_picture():
    picture = np.array([[[0, 10, 200], [100, 30, 0]], [[50, 20, 100], [250, 40, 100]]], np.uint8)
    np.testing.assert_array_equal(fill_picture(picture, "grey"), np.full((2, 2, 3), 127.5))
    np.testing.assert_array_equal(fill_picture(picture, "mean"), np.broadcast_to([100, 25, 100], (2, 2, 3)))
    np.testing.assert_allclose(fill_picture(np.full((20, 20, 3), 60, np.uint8), "blur"), 60, rtol=1e-6)
    assert {fill_picture(picture, fill).dtype for fill in ("grey", "mean", "blur")} == {np.dtype(np.float32)}
