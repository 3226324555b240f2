import numpy as np

from explainers.errors import NotApplicableError
from explainers.fixations import backtrack, plan_for
from explainers.methods.base import Attribution, Method, MethodCard, Param, register
from explainers.passes import PassKey


def density(points: np.ndarray, shape: tuple[int, int], sigma: float) -> np.ndarray:
    """The fixation points (P, 2) as a map of ``shape``: one at each point, blurred with a Gaussian of
    ``sigma`` pixels (float32; all zero without points)."""
    from scipy.ndimage import gaussian_filter

    counts = np.zeros(shape, np.float64)
    if len(points):
        counts[points[:, 0], points[:, 1]] = 1.0
    return gaussian_filter(counts, sigma, mode="constant").astype(np.float32)


@register
class CnnFixations(Method):
    """Mopuri, Garg & Babu (2017), "CNN Fixations: An unraveling approach to visualize the discriminative
    image regions" (arXiv:1708.06670): from the class's output neuron, keep at each layer the neurons
    that contributed (activation × weight) positively to the neurons kept in the layer above, back to the
    input; the pixels reached are the fixations, and their density (blurred with a Gaussian) the map.

    The rule per layer (see ``explainers.fixations``). As in the paper: a dense layer keeps, for each kept
    output, every input with a positive contribution; a convolution keeps, for each kept output, the one
    neuron of its 3-D receptive field (row, column, channel) with the largest contribution, if positive;
    max pooling its window's maximum; a concatenation hands each channel to its branch; a residual
    addition passes importance down both branches. The same positive-contribution rule, applied here
    where the paper gives no weights: an addition keeps a branch's neuron if its activation (weight 1) is
    positive, average pooling the positions with a positive activation (weights 1/n). Unlike the paper,
    at most ``max_neurons`` per layer are kept (the largest contributions, then the lower position), which
    bounds the work on large networks; biases are no neuron's contribution. One forward pass records
    the activations; no gradients.
    """

    name = "cnn_fixations"
    title = "CNN Fixations"
    description = "The pixels reached by following the neurons that fed the class, layer by layer, back to the picture."
    paper = "Mopuri, Garg & Babu 2017, arXiv:1708.06670"
    card = MethodCard(
        computes=(
            "Starts at the class's output and walks back through the network: at each layer it keeps the "
            "neurons whose activation times weight pushed the kept neurons above it up, down to the pixels. "
            "The pixels reached are the fixations (dots); the map is their density. No gradients are needed."
        ),
        colours=(
            "Unsigned: each dot is a fixation, a pixel the network's strongest evidence traces back to; bright "
            "regions are where fixations crowd, dark regions have none. Dark means 'not traced', not 'against'."
        ),
        pitfalls=(
            "Only the strongest contributions are followed (a cap per layer), so weak but widespread evidence "
            "does not show.",
            "A convolution follows one input per neuron, so the dots are sparse and can sit on edges and texture.",
            "It only traces dense, convolution, pooling, normalisation, addition and concatenation layers.",
            "The blur is a choice: a wider one makes smoother blobs from the same dots.",
        ),
        paper_url="https://arxiv.org/abs/1708.06670",
        good_for="Seeing the exact pixels a prediction traces back to, without gradients, as dots on the picture.",
    )
    order = 27
    params = {
        "max_neurons": Param(
            500,
            "At most this many neurons are followed per layer (the largest contributions): more is slower.",
            minimum=1,
            maximum=20000,
        ),
        "blur": Param(
            0.02, "Width of the Gaussian that turns the dots into a map, as a share of the picture's side.", 0.0, 0.2
        ),
    }

    def work(self, input_size):
        return 2, 0  # one forward pass that records every layer, and the walk back, about as long again

    def warm_up(self, model):
        try:
            plan = plan_for(model.keras)
        except NotApplicableError:  # nothing to prepare; asking for a map says why in words
            return
        plan.recorder()

    def check_applicable(self, model):
        plan_for(model.keras)

    def needs(self, model, layer):
        return [PassKey()]

    def compute(self, passes, layer):
        plan = plan_for(passes.model.keras)
        activations, logits = plan.record(passes.inputs)
        for i, row in enumerate(logits):  # the recording pass gives the logits: no pass of their own for them
            passes.note_logits(i, row)
        targets = passes.resolved_targets
        height, width = plan.shapes[plan.input][:2]
        sigma = self.settings["blur"] * max(height, width)
        maps, metas = [], []
        for i, target in enumerate(targets):
            points, scores, kept = backtrack(
                plan, {t: values[i] for t, values in activations.items()}, int(target), self.settings["max_neurons"]
            )
            maps.append(density(points, (height, width), sigma))
            metas.append({"points": points.tolist(), "points_size": [height, width], "kept_per_layer": kept})
            if not len(points):
                metas[-1]["notes"] = ["No neuron contributed positively all the way back to the picture."]
            passes.report((i + 1) / len(targets))
        meta = dict(metas[0])
        if len(metas) > 1:
            meta["per_image"] = metas
        return Attribution(np.stack(maps), None, meta)
