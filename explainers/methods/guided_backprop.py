from explainers.methods.base import MethodCard, PixelGradientMethod, register


@register
class GuidedBackprop(PixelGradientMethod):
    """Springenberg et al. (2015), "Striving for Simplicity": backpropagation in which every ReLU passes
    a gradient only where both its input and the incoming gradient are positive."""

    name = "guided_backprop"
    title = "Guided backpropagation"
    description = "A sharp, edge-like picture of the pixels that excite the class; it barely depends on the class."
    paper = "Springenberg et al. 2015, arXiv:1412.6806"
    card = MethodCard(
        computes=(
            "A backward pass like the vanilla gradient, except that every ReLU lets a signal through only "
            "where it is positive and the unit was active on the way in. The result is a crisp picture of the"
            " edges and textures that excite the network."
        ),
        colours=(
            "Unsigned: bright pixels are fine details (edges, textures) that the modified backward pass lets "
            "through; dark pixels were blocked. The brightness is the largest value over red, green and blue "
            "and does not say for or against."
        ),
        pitfalls=(
            "It looks like an edge detector: the map resembles the photo's outlines more than the model's reasoning.",
            "It fails the sanity check: it hardly changes when the model's weights are replaced by random ones "
            "(Adebayo et al. 2018), so it cannot show what the model has learnt.",
            "It barely depends on the class: maps for two different classes on one picture look almost the same; "
            "Nie et al. (2018) show it mostly recovers the image.",
            "Its modified ReLU rule is not the model's true gradient.",
        ),
        paper_url="https://arxiv.org/abs/1412.6806",
        good_for=(
            "Sharp pictures of which image details the network responds to, not evidence of why it chose this class."
        ),
    )
    relu_rule = "guided"
    order = 50
