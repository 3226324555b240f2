import numpy as np

from explainers.methods.base import CamMethod, MethodCard, register


@register
class GradCam(CamMethod):
    """Selvaraju et al. (2017), "Grad-CAM": channel k of the layer is weighted by the spatial mean of
    d(class score)/d(activation k); the map is ReLU(Σₖ wₖ·Aₖ). Plain gradients (no guided gate), so the
    map follows the class and the weights, as the sanity checks of Adebayo et al. (2018) require."""

    name = "grad_cam"
    title = "Grad-CAM"
    description = "A coarse heatmap of the regions of the picked layer that raise the class score."
    paper = "Selvaraju et al. 2017, arXiv:1610.02391"
    card = MethodCard(
        computes=(
            "Looks at the feature maps of the picked layer, weights each by how much the class score would "
            "rise, on average, if that map grew, adds them up and keeps the positive part. It shows which "
            "regions of that layer support the class."
        ),
        colours=(
            "Unsigned, positive evidence only: bright regions raise the class score, dark regions do not. "
            "Regions that speak against the class are cut to zero and look the same as irrelevant ones."
        ),
        pitfalls=(
            "It is coarse: the map has the layer's resolution (14×14 for VGG16's block5_conv3, 7×7 for ResNet50's "
            "last block), so small details blur into blobs.",
            "It shows only positive evidence: it cannot say what argues against the class.",
            "One average weight per feature map can under-mark a second object of the same class.",
            "The map changes with the layer: earlier layers are finer but noisier and less about the class.",
        ),
        paper_url="https://arxiv.org/abs/1610.02391",
        good_for=(
            "The first map to look at: it follows the class, is fast, and passes the weight-randomization sanity check."
        ),
    )
    order = 10

    def channel_weights(self, activations, gradients):
        return gradients.mean(axis=(1, 2), dtype=np.float64).astype(np.float32)
