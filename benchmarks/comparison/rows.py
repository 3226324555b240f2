"""The rows of the table: for each method, its title and every library's call with the same settings."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from explainers.api import DEFAULT_METHODS

from .measure import Failure, Timing, fastest_peer
from .peers import (
    LAYER,
    Case,
    Label,
    Setup,
    occlusion_tfe,
    ours,
    ours_default_view,
    slic_mapping,
    tfe,
    tkv,
    together,
    xpl,
)

# the page's default methods plus gradient × input, the four maps the "default view" row has always measured
DEFAULT_VIEW = [*DEFAULT_METHODS, "gradient_x_input"]
# what a peer user runs to get the default view's four maps: guided Grad-CAM is guided backprop
# times the Grad-CAM map, and no peer has it as one call
DEFAULT_VIEW_PEER = ["grad_cam", "guided_backprop", "vanilla_gradient", "gradient_x_input"]


@dataclass(frozen=True)
class Settings:
    """Sample counts of the multi-pass methods (the same for every library)."""

    smoothgrad_samples: int = 16
    noise: float = 0.2  # × the input range (black to white)
    ig_steps: int = 16
    patch: int = 32
    top_k: int = 32
    rise_masks: int = 128  # ours defaults to 500 and 256: cut so that the full run fits in ~40 minutes
    lime_samples: int = 128
    ig_table_steps: tuple[int, ...] = (8, 16, 32, 64, 128, 256)


QUICK = Settings(
    smoothgrad_samples=4, ig_steps=4, patch=56, top_k=4, rise_masks=32, lime_samples=32, ig_table_steps=(8, 16)
)


@dataclass(frozen=True)
class Row:
    key: str
    title: Callable[[Setup], str]
    cases: dict[str, Case]  # library -> its call; a library missing here has no such method
    slow: bool = False  # Score-CAM, RISE, LIME: only on --slow-models, --slow-repeat times


def rows(settings: Settings) -> list[Row]:
    st = settings
    noise = Label(f"{st.noise}×range", lambda s: st.noise * s.input_range)
    black = Label("mean(black)", lambda s: float(s.black.mean()))
    return [
        Row(
            "grad_cam",
            lambda s: f"Grad-CAM ({s.layer})",
            {
                "ours": ours("grad_cam"),
                # tf-explain: GradCAM().explain((x, None), model, 281, layer_name=layer, use_guided_grads=False)
                "tf-explain": tfe("GradCAM", layer_name=LAYER, use_guided_grads=False),
                # Xplique: GradCAM(model, conv_layer=layer).explain(x, one_hot)
                "Xplique": xpl("GradCAM", conv_layer=LAYER),
                # tf-keras-vis: Gradcam(model)(score, x, penultimate_layer=layer, seek_penultimate_conv_layer=False)
                "tf-keras-vis": tkv("gradcam", "Gradcam", penultimate_layer=LAYER, seek_penultimate_conv_layer=False),
            },
        ),
        Row(
            "vanilla_gradient",
            lambda s: "vanilla gradient (saliency)",
            {
                "ours": ours("vanilla_gradient"),
                # tf-explain: VanillaGradients().explain((x, None), model, 281)
                "tf-explain": tfe("VanillaGradients"),
                # Xplique: Saliency(model).explain(x, one_hot)
                "Xplique": xpl("Saliency"),
                # tf-keras-vis: Saliency(model)(score, x)
                "tf-keras-vis": tkv("saliency", "Saliency"),
            },
        ),
        Row(
            "gradient_x_input",
            lambda s: "gradient × input",
            {
                "ours": ours("gradient_x_input"),
                # tf-explain: GradientsInputs().explain((x, None), model, 281)
                "tf-explain": tfe("GradientsInputs"),
                # Xplique: GradientInput(model).explain(x, one_hot)
                "Xplique": xpl("GradientInput"),
            },
        ),
        Row(
            "guided_backprop",
            lambda s: "guided backprop",
            {
                "ours": ours("guided_backprop"),
                # Xplique: GuidedBackprop(model).explain(x, one_hot)  (a clone with guided ReLUs)
                "Xplique": xpl("GuidedBackprop"),
                # tf-keras-vis: Saliency(model, model_modifier=GuidedBackpropagation())(score, x)
                "tf-keras-vis": tkv("saliency", "Saliency", guided=True),
            },
        ),
        Row(
            "guided_grad_cam",
            lambda s: f"guided Grad-CAM ({s.layer})",
            {
                "ours": ours("guided_grad_cam"),
                # no peer has it as one call: its users multiply their guided backprop by their Grad-CAM map
                # Xplique: GuidedBackprop(model).explain(x, one_hot) × GradCAM(model, conv_layer=layer).explain(x, one_hot)
                "Xplique": together([xpl("GuidedBackprop"), xpl("GradCAM", conv_layer=LAYER)], multiply=(0, 1)),
                # tf-keras-vis: Saliency(model, model_modifier=GuidedBackpropagation())(score, x) × Gradcam(model)(...)
                "tf-keras-vis": together(
                    [
                        tkv("saliency", "Saliency", guided=True),
                        tkv("gradcam", "Gradcam", penultimate_layer=LAYER, seek_penultimate_conv_layer=False),
                    ],
                    multiply=(0, 1),
                ),
            },
        ),
        Row(
            "grad_cam_plus_plus",
            lambda s: f"Grad-CAM++ ({s.layer})",
            {
                "ours": ours("grad_cam_plus_plus"),
                # Xplique: GradCAMPP(model, conv_layer=layer).explain(x, one_hot)
                "Xplique": xpl("GradCAMPP", conv_layer=LAYER),
                # tf-keras-vis: GradcamPlusPlus(model)(score, x, penultimate_layer=layer, seek_penultimate_conv_layer=False)
                "tf-keras-vis": tkv(
                    "gradcam_plus_plus", "GradcamPlusPlus", penultimate_layer=LAYER, seek_penultimate_conv_layer=False
                ),
            },
        ),
        Row(
            "layer_cam",
            lambda s: f"Layer-CAM ({s.layer})",
            {
                "ours": ours("layer_cam"),
                # tf-keras-vis: Layercam(model)(score, x, penultimate_layer=layer, seek_penultimate_conv_layer=False)
                "tf-keras-vis": tkv("layercam", "Layercam", penultimate_layer=LAYER, seek_penultimate_conv_layer=False),
            },
        ),
        Row(
            "deconvnet",
            lambda s: "DeconvNet",
            {
                "ours": ours("deconvnet"),
                # Xplique: DeconvNet(model).explain(x, one_hot)  (a clone with the deconvnet ReLU rule)
                "Xplique": xpl("DeconvNet"),
            },
        ),
        Row(
            "smoothgrad",
            lambda s: f"SmoothGrad, {st.smoothgrad_samples} samples, σ = {st.noise} × range",
            {
                "ours": ours("smoothgrad", n_samples=st.smoothgrad_samples, noise=st.noise),
                # tf-explain: SmoothGrad().explain((x, None), model + softmax, 281, num_samples=16, noise=0.2 × range)
                # (its loss is a cross-entropy on probabilities, so it gets the softmax model)
                "tf-explain": tfe("SmoothGrad", model="probabilities", num_samples=st.smoothgrad_samples, noise=noise),
                # Xplique: SmoothGrad(model, nb_samples=16, noise=0.2 × range).explain(x, one_hot)
                "Xplique": xpl("SmoothGrad", nb_samples=st.smoothgrad_samples, noise=noise),
                # tf-keras-vis: Saliency(model)(score, x, smooth_samples=16, smooth_noise=0.2)
                # (its σ is 0.2 × this input's own max − min)
                "tf-keras-vis": tkv(
                    "saliency", "Saliency", smooth_samples=st.smoothgrad_samples, smooth_noise=st.noise
                ),
            },
        ),
        Row(
            "squaregrad",
            lambda s: f"SquareGrad, {st.smoothgrad_samples} samples, σ = {st.noise} × range",
            {
                "ours": ours("squaregrad", n_samples=st.smoothgrad_samples, noise=st.noise),
                # Xplique: SquareGrad(model, nb_samples=16, noise=0.2 × range).explain(x, one_hot)
                "Xplique": xpl("SquareGrad", nb_samples=st.smoothgrad_samples, noise=noise),
            },
        ),
        Row(
            "vargrad",
            lambda s: f"VarGrad, {st.smoothgrad_samples} samples, σ = {st.noise} × range",
            {
                "ours": ours("vargrad", n_samples=st.smoothgrad_samples, noise=st.noise),
                # Xplique: VarGrad(model, nb_samples=16, noise=0.2 × range).explain(x, one_hot)
                "Xplique": xpl("VarGrad", nb_samples=st.smoothgrad_samples, noise=noise),
            },
        ),
        Row(
            "integrated_gradients",
            lambda s: f"integrated gradients, {st.ig_steps} steps, black baseline",
            {
                "ours": ours("integrated_gradients", steps=st.ig_steps, baseline="black"),
                # tf-explain: IntegratedGradients().explain((x, None), model, 281, n_steps=16)
                # (left Riemann sum, baseline fixed at 0 of the preprocessed input, no (x − x′) factor)
                "tf-explain": tfe("IntegratedGradients", n_steps=st.ig_steps),
                # Xplique: IntegratedGradients(model, steps=16, baseline_value=mean of black).explain(x, one_hot)
                # (trapezoid rule; one scalar baseline, so black's per-channel values are averaged)
                "Xplique": xpl("IntegratedGradients", steps=st.ig_steps, baseline_value=black),
            },
        ),
        Row(
            "occlusion",
            lambda s: f"occlusion, {st.patch}-px patches, stride {st.patch}",
            {
                "ours": ours("occlusion", patch=st.patch, stride=st.patch),
                # tf-explain: OcclusionSensitivity(batch_size=32).explain((x, None), model, 281, patch_size=32)
                # (stride = patch size; patches filled with 127.5 in its input's units)
                "tf-explain": Case(
                    f"OcclusionSensitivity(batch_size=32).explain((x, None), logits model, 281, patch_size={st.patch})",
                    occlusion_tfe(st.patch),
                ),
                # Xplique: Occlusion(model, patch_size=32, patch_stride=32, occlusion_value=0).explain(x, one_hot)
                "Xplique": xpl(
                    "Occlusion", patch_size=st.patch, patch_stride=st.patch, occlusion_value=0.0, batch_size=32
                ),
            },
        ),
        Row(
            "score_cam_fast",
            lambda s: f"Score-CAM, top {st.top_k} channels ({s.layer})",
            {
                "ours": ours("score_cam_fast", top_k=st.top_k),
                # tf-keras-vis: Scorecam(model)(score, x, penultimate_layer=layer, max_N=32)
                # (it picks the channels by the activations' spread, ours by their mean)
                "tf-keras-vis": tkv(
                    "scorecam", "Scorecam", penultimate_layer=LAYER, seek_penultimate_conv_layer=False, max_N=st.top_k
                ),
            },
            slow=True,
        ),
        Row(
            "score_cam",
            lambda s: f"Score-CAM, every channel ({s.layer})",
            {
                "ours": ours("score_cam"),
                # tf-keras-vis: Scorecam(model)(score, x, penultimate_layer=layer)
                "tf-keras-vis": tkv("scorecam", "Scorecam", penultimate_layer=LAYER, seek_penultimate_conv_layer=False),
            },
            slow=True,
        ),
        Row(
            "rise",
            lambda s: f"RISE, {st.rise_masks} masks, 7×7 cells, keep 0.5",
            {
                "ours": ours("rise", n_masks=st.rise_masks, cells=7, keep=0.5),
                # Xplique: Rise(model + softmax, nb_samples=128, grid_size=7, preservation_probability=0.5).explain(...)
                "Xplique": xpl(
                    "Rise",
                    model="probabilities",
                    nb_samples=st.rise_masks,
                    grid_size=7,
                    preservation_probability=0.5,
                    batch_size=32,
                ),
            },
            slow=True,
        ),
        Row(
            "lime",
            lambda s: f"LIME, {st.lime_samples} samples, ~50 superpixels",
            {
                "ours": ours("lime", n_samples=st.lime_samples, segments=50),
                # Xplique: Lime(model + softmax, nb_samples=128, map_to_interpret_space=SLIC(50)).explain(x, one_hot)
                "Xplique": xpl(
                    "Lime",
                    model="probabilities",
                    nb_samples=st.lime_samples,
                    map_to_interpret_space=slic_mapping(50),
                    batch_size=32,
                ),
            },
            slow=True,
        ),
        Row(
            "default_view",
            lambda s: "default view: Grad-CAM + guided Grad-CAM + vanilla + gradient × input",
            {
                "ours": ours_default_view(DEFAULT_VIEW),
                # the only peer with all four: Xplique's GradCAM, GuidedBackprop (× the Grad-CAM map), Saliency and
                # GradientInput back to back; compare() adds the fastest peer per map, also back to back
                "Xplique": together(
                    [xpl("GradCAM", conv_layer=LAYER), xpl("GuidedBackprop"), xpl("Saliency"), xpl("GradientInput")],
                    multiply=(1, 0),
                ),
            },
        ),
    ]


COMPARED_METHODS = [
    "grad_cam",
    "vanilla_gradient",
    "gradient_x_input",
    "guided_backprop",
    "guided_grad_cam",
    "grad_cam_plus_plus",
    "layer_cam",
    "deconvnet",
    "smoothgrad",
    "squaregrad",
    "vargrad",
    "integrated_gradients",
    "occlusion",
    "score_cam_fast",
    "rise",
    "lime",
    "default_view",
]


FASTEST_MIX = "fastest peer per map"


def fastest_mix(chosen: list[Row], model_results: dict[str, dict[str, Timing | Failure]]) -> tuple[Case, str] | None:
    """The default view as a peer user gets it fastest: each map from the peer that was fastest at it in this
    model's rows above, back to back (guided Grad-CAM: that guided backprop × that Grad-CAM map)."""
    by_key = {row.key: row for row in chosen}
    cases, who = [], []
    for method in DEFAULT_VIEW_PEER:
        best = fastest_peer(model_results.get(method, {}))
        if best is None:
            return None
        cases.append(by_key[method].cases[best[0]])
        who.append(f"{TITLES[method]}: {best[0]}")
    return together(cases, multiply=(1, 0)), "; ".join(who)


TITLES = {
    "grad_cam": "Grad-CAM",
    "guided_backprop": "guided backprop",
    "vanilla_gradient": "vanilla gradient",
    "gradient_x_input": "gradient × input",
}
