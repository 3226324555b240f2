import numpy as np

from explainers.methods.base import CamMethod, MethodCard, register


@register
class GradCamPlusPlus(CamMethod):
    """Chattopadhay et al. (2018), "Grad-CAM++": channel weights are a positively weighted sum of the
    gradients, with per-position coefficients from the second and third powers of the gradient (the
    closed form for an exponential of the score), so several instances of a class all show up."""

    name = "grad_cam_plus_plus"
    title = "Grad-CAM++"
    description = "Like Grad-CAM, but better at showing every object of the class when there are several."
    paper = "Chattopadhay et al. 2018, arXiv:1710.11063"
    card = MethodCard(
        computes=(
            "Like Grad-CAM, but each feature map's weight counts only positive gradients, weighted position "
            "by position with higher-order terms. This gives several objects of the same class a fairer share"
            " of the map."
        ),
        colours=(
            "Unsigned, positive evidence only: bright regions raise the class score, dark regions do not. "
            "Regions that speak against the class are cut to zero and look the same as irrelevant ones."
        ),
        pitfalls=(
            "It is as coarse as Grad-CAM: the layer's resolution (14×14 for VGG16's block5_conv3).",
            "It shows only positive evidence.",
            "Its weighting is derived for an exponential of the score; on the raw score it is a heuristic, and the "
            "gain over Grad-CAM is often small.",
        ),
        paper_url="https://arxiv.org/abs/1710.11063",
        good_for="Pictures with several objects of the class, or when Grad-CAM marks only part of the object.",
    )
    order = 15

    def channel_weights(self, activations, gradients):
        g = gradients.astype(np.float64)
        squared, cubed = g**2, g**3
        total = activations.astype(np.float64).sum(axis=(1, 2), keepdims=True)
        denominator = 2.0 * squared + total * cubed
        alpha = np.divide(squared, denominator, out=np.zeros_like(g), where=denominator != 0)
        return (alpha * np.maximum(g, 0.0)).sum(axis=(1, 2)).astype(np.float32)
