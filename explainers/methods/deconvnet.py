from explainers.methods.base import MethodCard, PixelGradientMethod, register


@register
class DeconvNet(PixelGradientMethod):
    """Zeiler & Fergus (2014), "Visualizing and Understanding Convolutional Networks": the signal is sent
    back through the network with every ReLU applied to the backward signal instead of masking it with
    the forward pass."""

    name = "deconvnet"
    title = "DeconvNet"
    description = "Reconstructs the image patterns the network responds to, by running it backwards."
    paper = "Zeiler & Fergus 2014, arXiv:1311.2901"
    card = MethodCard(
        computes=(
            "Sends the class signal backwards through the network, applying each ReLU to the backward signal "
            "itself instead of to where the unit was active on the way in. It reconstructs image patterns the"
            " network responds to."
        ),
        colours=(
            "Unsigned: bright pixels are patterns the backward reconstruction brings out, dark pixels are not "
            "reconstructed. The brightness is the largest value over red, green and blue; there is no for or "
            "against."
        ),
        pitfalls=(
            "It behaves largely like an edge and texture detector of the picture itself.",
            "It hardly changes when the weights are randomized and barely depends on the class (Adebayo et al. "
            "2018; Nie et al. 2018), so it says little about the model's decision.",
            "Its backward rule is not the true gradient of the score.",
        ),
        paper_url="https://arxiv.org/abs/1311.2901",
        good_for="Teaching and comparison: seeing that a sharp-looking map is not necessarily a faithful one.",
    )
    relu_rule = "deconv"
    order = 60
