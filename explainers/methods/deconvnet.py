from explainers.methods.base import PixelGradientMethod, register


@register
class DeconvNet(PixelGradientMethod):
    """Zeiler & Fergus (2014), "Visualizing and Understanding Convolutional Networks": the signal is sent
    back through the network with every ReLU applied to the backward signal instead of masking it with
    the forward pass."""

    name = "deconvnet"
    title = "DeconvNet"
    description = "Reconstructs the image patterns the network responds to, by running it backwards."
    paper = "Zeiler & Fergus 2014, arXiv:1311.2901"
    relu_rule = "deconv"
    order = 60
