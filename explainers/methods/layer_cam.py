import numpy as np

from explainers.methods.base import CamMethod, register


@register
class LayerCam(CamMethod):
    """Jiang et al. (2021), "LayerCAM": every position of every channel is weighted by its own positive
    gradient, ReLU(Σₖ ReLU(gₖ)·Aₖ), which keeps fine detail when an early layer is picked."""

    name = "layer_cam"
    title = "Layer-CAM"
    description = "Like Grad-CAM, but keeps finer detail, especially for earlier layers."
    paper = "Jiang et al. 2021, IEEE TIP 30:5875"
    order = 20

    def channel_weights(self, activations, gradients):
        return np.maximum(gradients, 0.0)
