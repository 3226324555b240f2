import numpy as np

from explainers.methods.base import Attribution, Method, register, upsample
from explainers.methods.grad_cam import GradCam
from explainers.passes import PassKey


@register
class GuidedGradCam(Method):
    """Selvaraju et al. (2017): guided backpropagation multiplied pixel by pixel by the Grad-CAM map
    upsampled to the input size: fine detail from the first, class focus from the second."""

    name = "guided_grad_cam"
    title = "Guided Grad-CAM"
    description = "Sharp detail from guided backpropagation, kept only where Grad-CAM says the class is."
    paper = "Selvaraju et al. 2017, arXiv:1610.02391"
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
