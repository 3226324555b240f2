import numpy as np

from explainers.methods.base import Attribution, Method, MethodCard, register
from explainers.methods.grad_cam import GradCam
from explainers.ops import upsample
from explainers.passes import PassKey


@register
class GuidedGradCam(Method):
    """Selvaraju et al. (2017): guided backpropagation multiplied pixel by pixel by the Grad-CAM map
    upsampled to the input size: fine detail from the first, class focus from the second."""

    name = "guided_grad_cam"
    title = "Guided Grad-CAM"
    description = "Sharp detail from guided backpropagation, kept only where Grad-CAM says the class is."
    paper = "Selvaraju et al. 2017, arXiv:1610.02391"
    card = MethodCard(
        computes=(
            "Multiplies the guided backpropagation picture, pixel by pixel, by the Grad-CAM map stretched to "
            "the picture's size. The fine edges come from the first, the focus on the class from the second."
        ),
        colours=(
            "Unsigned: bright pixels are fine details inside the regions Grad-CAM marks for the class; dark "
            "pixels are outside those regions or not picked up by guided backpropagation. There is no for or "
            "against."
        ),
        pitfalls=(
            "Its fine detail comes from guided backpropagation, which hardly depends on the model's weights "
            "(Adebayo et al. 2018); only the Grad-CAM factor makes it class-specific.",
            "It only refines Grad-CAM's regions: whatever Grad-CAM misses, it misses too.",
            "Its sharp look suggests more precision than the method has.",
        ),
        paper_url="https://arxiv.org/abs/1610.02391",
        good_for="A high-resolution illustration of Grad-CAM's regions, read next to plain Grad-CAM.",
    )
    order = 12
    uses_layer = True

    def needs(self, model, layer):
        return [PassKey(layer, layer_grads=True), PassKey(None, input_grads=True, relu="guided")]

    def compute(self, passes, layer):
        grad_cam = GradCam(relu=True).compute(passes, layer)
        guided = passes.get(PassKey(None, input_grads=True, relu="guided")).input_grads
        coarse = upsample(grad_cam.heatmap, guided.shape[1:3])
        attributions = guided * coarse[..., None]
        return Attribution(np.abs(attributions).max(axis=-1), attributions, grad_cam.meta)
