"""Can I trust this map? Scores that check a saliency map against the object, the model and itself.

- **Localization**: does the map point at the object? ``pointing_game`` (Zhang et al. 2016/2018) and
  ``energy_in_mask`` (the "energy-based pointing game" of the Score-CAM paper, Wang et al. 2020),
  against a mask of the object, or against a box the person drew (``box_mask``, ``scale_box``).
- **Similarity** of two maps: ``rank_correlation`` (Spearman) and ``ssim`` (structural similarity),
  the two measures of Adebayo et al. 2018.
- **Faithfulness**: does deleting the pixels the map ranks first make the class disappear quickly, and
  does revealing them first bring it back quickly? ``faithfulness`` gives the deletion or insertion
  curve of Petsiuk et al. 2018 (RISE) and its area; ``random_map_auc`` the area random maps get.
- **Sanity checks** (Adebayo et al. 2018, "Sanity Checks for Saliency Maps"): a map that explains the
  model must change when the model's weights are replaced by random ones (``cascading_randomization``)
  and should change when another class is explained (``random_logit``).
- **Stability**: how much a method with a random seed changes from one seed to another (``stability``).

Scores on maps alone are plain numpy/scipy/scikit-image; the ones that run the model go through the
same API and compiled passes as everything else (``explainers.api.explain`` and ``Passes.batch``).
One module per kind of score; every public name is re-exported here, so ``evaluation.ssim(...)``
works as it always did. The randomizable copy lives with the model code (``explainers.model_copies``).
"""

from __future__ import annotations

from explainers.evaluation.faithfulness import (
    DEFAULT_FILL,
    DEFAULT_STEPS,
    FILLS,
    MAX_STEPS,
    MODES,
    Curve,
    RandomBaseline,
    faithfulness,
    fill_image,
    perturbed_image,
    perturbed_images,
    pixel_order,
    random_map_auc,
)
from explainers.evaluation.localization import box_mask, energy_in_mask, map_peak, pointing_game, scale_box
from explainers.evaluation.sanity import (
    RandomizationStep,
    RandomLogitResult,
    SanityResult,
    cascading_randomization,
    random_logit,
)
from explainers.evaluation.similarity import rank_correlation, ssim
from explainers.evaluation.stability import StabilityResult, stability
from explainers.model_copies import randomizable_copy, randomize_layer, weighted_layers

__all__ = [
    "MODES",
    "FILLS",
    "DEFAULT_FILL",
    "DEFAULT_STEPS",
    "MAX_STEPS",
    "Curve",
    "RandomBaseline",
    "RandomizationStep",
    "SanityResult",
    "RandomLogitResult",
    "StabilityResult",
    "map_peak",
    "pointing_game",
    "energy_in_mask",
    "box_mask",
    "scale_box",
    "rank_correlation",
    "ssim",
    "fill_image",
    "pixel_order",
    "perturbed_images",
    "perturbed_image",
    "faithfulness",
    "random_map_auc",
    "weighted_layers",
    "randomizable_copy",
    "randomize_layer",
    "cascading_randomization",
    "random_logit",
    "stability",
]
