import numpy as np

from explainers.methods.base import CamMethod, register


@register
class GradCamPlusPlus(CamMethod):
    """Chattopadhay et al. (2018), "Grad-CAM++": channel weights are a positively weighted sum of the
    gradients, with per-position coefficients from the second and third powers of the gradient (the
    closed form for an exponential of the score), so several instances of a class all show up."""

    name = "grad_cam_plus_plus"
    title = "Grad-CAM++"
    description = "Like Grad-CAM, but better at showing every object of the class when there are several."
    paper = "Chattopadhay et al. 2018, arXiv:1710.11063"
    order = 15

    def channel_weights(self, activations, gradients):
        g = gradients.astype(np.float64)
        squared, cubed = g**2, g**3
        total = activations.astype(np.float64).sum(axis=(1, 2), keepdims=True)
        denominator = 2.0 * squared + total * cubed
        alpha = np.divide(squared, denominator, out=np.zeros_like(g), where=denominator != 0)
        return (alpha * np.maximum(g, 0.0)).sum(axis=(1, 2)).astype(np.float32)
