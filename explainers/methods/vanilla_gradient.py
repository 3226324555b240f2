from explainers.methods.base import PixelGradientMethod, register


@register
class VanillaGradient(PixelGradientMethod):
    """Simonyan, Vedaldi & Zisserman (2013), "Deep Inside Convolutional Networks": the gradient of the
    class score with respect to the input pixels; the map is the largest |gradient| over the colour channels."""

    name = "vanilla_gradient"
    title = "Vanilla gradient"
    description = "Which pixels would change the class score the most if they changed a little."
    paper = "Simonyan et al. 2013, arXiv:1312.6034"
    order = 30
