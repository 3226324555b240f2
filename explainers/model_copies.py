"""Copies of a model whose weights can be changed without touching the model every user shares: the
randomized copy of the sanity checks (``explainers.evaluation.sanity``)."""

from __future__ import annotations

import numpy as np

from explainers.errors import NotApplicableError
from explainers.models import ExplainableModel


def weighted_layers(keras_model) -> list[str]:
    """Names of the layers that have weights, from the top (the logits) down."""
    return [layer.name for layer in reversed(keras_model.layers) if layer.weights]


def randomizable_copy(model):
    """A copy of ``model`` with its own weights (equal to the original's), to randomize without touching
    the model every user shares. Costs as much memory as the model's weights (528 MB for VGG16)."""
    from explainers._tf import keras

    def clone_layer(layer):
        if isinstance(layer, keras.layers.Lambda):  # Keras refuses to rebuild Python lambdas from config
            return keras.layers.Lambda(
                layer.function,
                output_shape=layer._output_shape,
                mask=layer.mask,
                arguments=layer.arguments,
                name=layer.name,
            )
        return layer.__class__.from_config(layer.get_config())

    try:
        copy = keras.models.clone_model(model.keras, clone_function=clone_layer)
        copy.set_weights(model.keras.get_weights())
    except (ValueError, TypeError, NotImplementedError) as error:
        raise NotApplicableError(
            f"{model.title} cannot be copied to randomize its weights (only Keras functional "
            f"and Sequential models can). Keras said: {error}"
        ) from error
    return ExplainableModel(
        copy,
        f"{model.name} (randomized)",
        labels=model.labels,
        preprocess=model.preprocess,
        default_layer=model.default_layer,
        weights="randomized copy",
        weights_id=f"{model.weights_id}+randomized",
        random_weights=True,
        title=f"{model.title} (randomized)",
        memo_logits=False,
        output_activation=model.output_activation,
    )  # its weights change in place


_INITIALIZER_NAMES = {"depthwise_kernel": "depthwise_initializer", "pointwise_kernel": "pointwise_initializer"}


def randomize_layer(layer, seed: int) -> None:
    """Re-initialise every weight of ``layer`` in place, as if the layer had just been built.

    Each variable gets a fresh draw from the layer's own initializer for it (``kernel_initializer``:
    Glorot uniform for Keras convolutions and dense layers; ``bias_initializer``: zeros; batch
    normalisation back to γ = 1, β = 0, mean 0, variance 1), seeded from ``seed`` and the variable's
    position: the distribution the model started from before training, as in Adebayo et al. 2018.
    A variable without a known initializer gets normal noise with the original values' mean and
    standard deviation. Values are assigned in place, so compiled passes keep working untraced.
    """
    from explainers._tf import keras

    for position, variable in enumerate(layer.weights):
        name = variable.name.split("/")[-1].split(":")[0]
        initializer = getattr(layer, _INITIALIZER_NAMES.get(name, f"{name}_initializer"), None)
        derived = int(np.random.SeedSequence([int(seed), position]).generate_state(1)[0] % (2**31 - 1))
        if isinstance(initializer, keras.initializers.Initializer):
            config = initializer.get_config()
            if "seed" in config:
                config["seed"] = derived
            values = type(initializer).from_config(config)(shape=tuple(variable.shape), dtype=variable.dtype)
        else:
            original = np.asarray(variable.numpy(), np.float64)
            rng = np.random.default_rng(derived)
            values = rng.normal(original.mean(), original.std(), original.shape).astype(variable.dtype)
        variable.assign(values)
