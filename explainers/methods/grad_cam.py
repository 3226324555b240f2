import numpy as np

from explainers.methods.base import CamMethod, register


@register
class GradCam(CamMethod):
    """Selvaraju et al. (2017), "Grad-CAM": channel k of the layer is weighted by the spatial mean of
    d(class score)/d(activation k); the map is ReLU(Σₖ wₖ·Aₖ). Plain gradients (no guided gate), so the
    map follows the class and the weights, as the sanity checks of Adebayo et al. (2018) require."""

    name = "grad_cam"
    title = "Grad-CAM"
    description = "A coarse heatmap of the regions of the picked layer that raise the class score."
    paper = "Selvaraju et al. 2017, arXiv:1610.02391"
    order = 10

    def channel_weights(self, activations, gradients):
        return gradients.mean(axis=(1, 2), dtype=np.float64).astype(np.float32)
