from explainers import layer_attribution
from explainers.methods.base import Attribution, MethodCard, Param, PixelGradientMethod, register
from explainers.passes import PassKey


@register
class GradientXInput(PixelGradientMethod):
    """Gradient × input (Shrikumar et al. 2016): each input value times its gradient, summed over the
    colour channels. Signed: negative values are pixels whose presence lowers the class score."""

    name = "gradient_x_input"
    title = "Gradient × input"
    description = "The gradient weighted by the pixel itself: how much each pixel, as it is, adds to the score."
    paper = "Shrikumar et al. 2016, arXiv:1605.01713"
    card = MethodCard(
        computes=(
            "The slope of the class score at each pixel multiplied by the pixel's own value, added over red, "
            "green and blue. It estimates how much each pixel, as it is, pushes the score up or down."
        ),
        colours=(
            "In the signed (for/against) view, red pixels push the class score up and blue pixels push it "
            "down, which is evidence against the class; light grey is close to zero. In the absolute view, "
            "brightness shows only how strong the effect is, whichever its direction."
        ),
        pitfalls=(
            "The slope is multiplied by the pixel's value as the model receives it, so pixels whose value is near "
            "zero get almost nothing, however much they matter.",
            "Where that zero lies depends on the model: black for inputs scaled 0 to 1, about the average ImageNet "
            "colour for VGG16 and ResNet50, mid-grey for InceptionV3.",
            "It inherits the noise and saturation of the plain gradient.",
            "It is a first-order estimate: it is exact only for a straight-line (linear) model.",
        ),
        paper_url="https://arxiv.org/abs/1605.01713",
        good_for=(
            "A quick signed map, from the same pass as the vanilla gradient, when you want to see evidence "
            "against the class."
        ),
    )
    signed = True
    order = 40

    params = {"source": Param("pixels", layer_attribution.SOURCE_HELP, choices=layer_attribution.SOURCES)}

    def needs(self, model, layer):
        if layer_attribution.from_layer(self.settings):  # gradient × activation (Ancona et al. 2018)
            return [PassKey(layer, layer_grads=True)]
        return super().needs(model, layer)

    def compute(self, passes, layer):
        if not layer_attribution.from_layer(self.settings):
            return super().compute(passes, layer)
        result = passes.get(PassKey(layer, layer_grads=True))
        heatmap = layer_attribution.gradient_times_activation(result.activations, result.layer_grads)
        return Attribution(heatmap, None, {"source": "layer", "layer_resolution": list(heatmap.shape[1:])})

    def from_gradients(self, gradients, inputs):
        return gradients * inputs

    def to_heatmap(self, attributions):
        return attributions.sum(axis=-1)
