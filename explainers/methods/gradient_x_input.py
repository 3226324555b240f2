from explainers.methods.base import Attribution, PixelGradientMethod, register


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

    def compute(self, passes, layer):
        gradients = passes.get(self.needs(passes.model, layer)[0]).input_grads
        attributions = gradients * passes.inputs
        return Attribution(attributions.sum(axis=-1), attributions)
