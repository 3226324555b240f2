import numpy as np

from explainers.errors import NotApplicableError
from explainers.methods.base import Attribution, Method, MethodCard, Param, register
from explainers.passes import PassKey


def cam_head(model) -> tuple[str, np.ndarray] | None:
    """(name of the layer feeding global average pooling, dense kernel (K, classes)), or None.

    CAM needs a model that ends in: 4-D feature maps -> global average pooling -> one dense layer.
    """
    from explainers._tf import keras
    from explainers.keras_graph import WIDENING, widened_layer

    net = model.keras
    producers = {}
    for layer in net.layers:
        for node in getattr(layer, "_inbound_nodes", []):
            for tensor in node.output_tensors:
                producers[id(tensor)] = layer
    last = net.get_layer(net.output_names[0]) if hasattr(net, "output_names") else net.layers[-1]
    widened = widened_layer(net)  # one's own binary model: one unit shown as two classes
    last = widened if widened is not None else last
    if not isinstance(last, keras.layers.Dense):
        return None
    pool = producers.get(id(last.input))
    if not isinstance(pool, keras.layers.GlobalAveragePooling2D):
        return None
    features = producers.get(id(pool.input))
    if features is None or len(features.output.shape) != 4:
        return None
    kernel = np.asarray(last.kernel)
    return features.name, kernel @ np.asarray(WIDENING) if widened is not None else kernel


@register
class Cam(Method):
    """Zhou et al. (2016), "Learning Deep Features for Discriminative Localization": for a network that
    ends in global average pooling + one dense layer, the map is Σₖ wₖᶜ·Aₖ over the last feature maps,
    with wᶜ the dense weights of class c. It always uses that last layer, whatever layer is picked."""

    name = "cam"
    title = "CAM"
    description = "The class's own output weights applied to the last feature maps: where the class evidence sits."
    paper = "Zhou et al. 2016, arXiv:1512.04150"
    card = MethodCard(
        computes=(
            "Takes the last feature maps (grids of detectors just before the network averages them) and adds "
            "them up, each weighted by how much the output layer counts it towards this class. No gradients "
            "are needed."
        ),
        colours=(
            "Unsigned, positive evidence only: bright regions hold features the output layer counts towards "
            "the class, dark regions give no support. Dark means 'no support', not 'against': regions that "
            "count against the class are cut to zero."
        ),
        pitfalls=(
            "It only works on networks that end in global average pooling and one dense layer (ResNet50, "
            "InceptionV3); it does not apply to VGG16.",
            "It always uses the last feature maps, whatever layer is picked.",
            "It is coarse: the map has those feature maps' resolution (7×7 for ResNet50, 8×8 for InceptionV3), "
            "stretched over the picture.",
            "It shows only positive evidence.",
        ),
        paper_url="https://arxiv.org/abs/1512.04150",
        good_for="An exact, cheap look at where the class evidence sits in networks with a pooling head.",
    )
    order = 25
    params = {"relu": Param(True, "Keep only the positive part (regions that speak for the class).")}

    def check_applicable(self, model):
        if cam_head(model) is None:
            raise NotApplicableError(
                f"CAM does not apply to {model.title}: CAM needs a network that ends in global average pooling "
                f"followed by one dense layer, and {model.title} does not. Grad-CAM generalises CAM to any "
                f"network; use Grad-CAM instead."
            )

    def layer_for(self, model, layer):
        head = cam_head(model)
        return head[0] if head else None

    def needs(self, model, layer):
        return [PassKey(self.layer_for(model, layer))]

    def compute(self, passes, layer):
        self.check_applicable(passes.model)
        cam_layer, kernel = cam_head(passes.model)
        result = passes.get(PassKey(cam_layer))
        weights = kernel[:, result.targets].T  # (N, K)
        cam = np.einsum("nhwk,nk->nhw", result.activations.astype(np.float64), weights).astype(np.float32)
        if self.settings["relu"]:
            cam = np.maximum(cam, 0.0)
        return Attribution(cam, None, {"cam_layer": cam_layer, "layer_resolution": list(cam.shape[1:])})
