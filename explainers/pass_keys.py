"""What one pass computes (``PassKey``) and what it returns (``PassResult``): plain numpy, no TensorFlow.

The engine (``explainers.engine``) runs passes by these keys and the per-request cache
(``explainers.passes.Passes``) shares them between methods; both import them from here, so neither
needs the other at import time.
"""

from __future__ import annotations

from dataclasses import dataclass, fields

import numpy as np

TOP1 = -1  # a target of -1 means "the model's top-1 prediction", resolved inside the pass


@dataclass(frozen=True)
class PassKey:
    """What one pass computes: watch ``layer`` (None: none), gradients wrt layer and/or input."""

    layer: str | None = None
    layer_grads: bool = False
    input_grads: bool = False
    relu: str = "plain"  # "plain", "guided" (Springenberg et al.) or "deconv" (Zeiler & Fergus)
    # other ReLU rules whose input gradients come out of this pass's forward pass too: a backward pass
    # each, with no forward pass of their own (the forward pass is the same whatever the rule)
    also: tuple[str, ...] = ()
    # False: a pass over one picture whose target is given, returning its gradients but not the logits,
    # so TensorFlow can leave out every part of the forward pass the backward pass never reads (see
    # ``Engine.lean``); the pictures' logits then come from another pass, if anyone reads them
    logits: bool = True

    def covers(self, other: PassKey) -> bool:
        """True if this pass yields everything ``other`` asks for."""
        if other.logits and not self.logits:
            return False
        if self.relu != other.relu:
            return other.relu in self.also and other.layer is None and not other.layer_grads
        if other.layer is not None and other.layer != self.layer:
            return False
        if other.layer_grads and not (self.layer_grads and self.layer == other.layer):
            return False
        return self.input_grads or not other.input_grads


@dataclass
class PassResult:
    logits: np.ndarray | None  # (N, classes); None from a pass keyed ``logits=False``
    targets: np.ndarray  # (N,) int: the classes explained (top-1 resolved)
    activations: np.ndarray | None = None  # (N, h, w, k) at the watched layer
    layer_grads: np.ndarray | None = None  # d(target logit)/d(activations)
    input_grads: np.ndarray | None = None  # d(target logit)/d(preprocessed input), (N, H, W, 3)
    rule_input_grads: dict[str, np.ndarray] | None = None  # input gradients under the key's ``also`` rules

    def under(self, rule: str) -> PassResult:
        """This pass as a pass of another ReLU rule of its ``also`` sees it: the same logits, that rule's
        input gradients."""
        return PassResult(self.logits, self.targets, input_grads=self.rule_input_grads[rule])

    def row(self, index: int) -> PassResult:
        """Picture ``index``'s share of this pass (its rows of every array), as if it had run alone: a
        batch of several requests' pictures ran it (``explainers.many_pictures``)."""

        def part(value):
            if isinstance(value, dict):
                return {name: array[index : index + 1] for name, array in value.items()}
            return None if value is None else value[index : index + 1]

        return PassResult(**{item.name: part(getattr(self, item.name)) for item in fields(self)})
