import numpy as np

from explainers.methods.base import CamMethod, MethodCard, register


@register
class LayerCam(CamMethod):
    """Jiang et al. (2021), "LayerCAM": every position of every channel is weighted by its own positive
    gradient, ReLU(Σₖ ReLU(gₖ)·Aₖ), which keeps fine detail when an early layer is picked."""

    name = "layer_cam"
    title = "Layer-CAM"
    description = "Like Grad-CAM, but keeps finer detail, especially for earlier layers."
    paper = "Jiang et al. 2021, IEEE TIP 30:5875"
    card = MethodCard(
        computes=(
            "Weights every position of every feature map by its own positive gradient, instead of one average"
            " weight per map as Grad-CAM does, then adds them up. This keeps more detail, especially at "
            "earlier layers."
        ),
        colours=(
            "Unsigned, positive evidence only: bright regions raise the class score, dark regions do not. "
            "Regions that speak against the class are cut to zero and look the same as irrelevant ones."
        ),
        pitfalls=(
            "It is still limited by the layer's resolution; at the last layer it looks much like Grad-CAM.",
            "Earlier layers give finer but noisier maps that respond to edges and textures more than to the class.",
            "It shows only positive evidence.",
        ),
        paper_url="https://doi.org/10.1109/TIP.2021.3089943",
        good_for="A sharper but still class-specific map: pick an earlier layer (e.g. block4_conv3 on VGG16).",
    )
    order = 20

    def channel_weights(self, activations, gradients):
        return np.maximum(gradients, 0.0)
