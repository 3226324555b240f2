from explainers.methods.base import PixelGradientMethod, register


@register
class GradientXInput(PixelGradientMethod):
    """Gradient × input (Shrikumar et al. 2016): each input value times its gradient, summed over the
    colour channels. Signed: negative values are pixels whose presence lowers the class score."""

    name = "gradient_x_input"
    title = "Gradient × input"
    description = "The gradient weighted by the pixel itself: how much each pixel, as it is, adds to the score."
    paper = "Shrikumar et al. 2016, arXiv:1605.01713"
    signed = True
    order = 40

    def from_gradients(self, gradients, inputs):
        return gradients * inputs

    def to_heatmap(self, attributions):
        return attributions.sum(axis=-1)
