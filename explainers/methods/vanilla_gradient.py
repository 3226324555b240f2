from explainers.methods.base import MethodCard, PixelGradientMethod, register


@register
class VanillaGradient(PixelGradientMethod):
    """Simonyan, Vedaldi & Zisserman (2013), "Deep Inside Convolutional Networks": the gradient of the
    class score with respect to the input pixels; the map is the largest |gradient| over the colour channels."""

    name = "vanilla_gradient"
    title = "Vanilla gradient"
    description = "Which pixels would change the class score the most if they changed a little."
    paper = "Simonyan et al. 2013, arXiv:1312.6034"
    card = MethodCard(
        computes=(
            "For every pixel, how strongly the class score would react if that pixel's colour were nudged a "
            "little. It is the network's own slope at exactly this picture, read from one backward pass."
        ),
        colours=(
            "Unsigned: bright pixels are those the score is most sensitive to, dark pixels hardly matter to "
            "it. Only the size of the slope is kept (the largest over red, green and blue), not whether a "
            "brighter pixel would raise or lower the score."
        ),
        pitfalls=(
            "It looks speckled and noisy: neighbouring pixels can get very different values.",
            "Saturation: once the network is sure of the class its slope flattens, so pixels that matter can look dim.",
            "It shows sensitivity, not contribution: a bright pixel would matter if it changed, which is not the "
            "same as having made the decision.",
        ),
        paper_url="https://arxiv.org/abs/1312.6034",
        good_for=(
            "A fast, honest first look that follows the class and the model's weights; use SmoothGrad for a "
            "cleaner version."
        ),
    )
    order = 30
