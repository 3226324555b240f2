from explainers.methods.base import PixelGradientMethod, register


@register
class GuidedBackprop(PixelGradientMethod):
    """Springenberg et al. (2015), "Striving for Simplicity": backpropagation in which every ReLU passes
    a gradient only where both its input and the incoming gradient are positive."""

    name = "guided_backprop"
    title = "Guided backpropagation"
    description = "A sharp, edge-like picture of the pixels that excite the class; it barely depends on the class."
    paper = "Springenberg et al. 2015, arXiv:1412.6806"
    relu_rule = "guided"
    order = 50
