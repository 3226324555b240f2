"""Chunked runs: same answer as one big batch, progress after each chunk, halving on out-of-memory."""

import numpy as np
import pytest

from explainers.batching import default_chunk_size, is_out_of_memory, run_in_chunks
from explainers.engine import engine_for
from explainers.errors import ExplainerError
from explainers.labels import Labels
from explainers.models import ExplainableModel


class ResourceExhaustedError(Exception):
    """Stands in for TensorFlow's OOM error (matched by name, so no TensorFlow is needed here)."""


def test_chunks_give_the_same_answer_and_report_progress():
    data = np.arange(10 * 3).reshape(10, 3)
    seen, fractions = [], []

    def compute(start, stop):
        seen.append((start, stop))
        return data[start:stop] * 2

    out = run_in_chunks(compute, 10, 4, progress=fractions.append)
    np.testing.assert_array_equal(out, data * 2)
    assert seen == [(0, 4), (4, 8), (8, 10)] and fractions == [0.4, 0.8, 1.0]


def test_out_of_memory_halves_the_chunk_and_retries():
    calls = []

    def compute(start, stop):
        calls.append(stop - start)
        if stop - start > 3:
            raise ResourceExhaustedError("OOM when allocating tensor")
        return np.arange(start, stop)

    out = run_in_chunks(compute, 10, 16)
    np.testing.assert_array_equal(out, np.arange(10))
    assert calls[:3] == [10, 8, 4] and max(calls[3:]) <= 2  # 16 -> 8 -> 4 -> 2, then steady
    assert is_out_of_memory(MemoryError()) and not is_out_of_memory(ValueError())


def test_out_of_memory_for_one_sample_is_a_plain_error():
    def compute(start, stop):
        raise MemoryError

    with pytest.raises(ExplainerError, match="not have enough memory"):
        run_in_chunks(compute, 3, 2)


def test_other_errors_pass_through_and_cancel_stops_between_chunks():
    with pytest.raises(KeyError):
        run_in_chunks(lambda a, b: (_ for _ in ()).throw(KeyError("x")), 3, 1)
    done = []

    def stop_after_first(fraction):
        done.append(fraction)
        raise RuntimeError("cancelled")

    with pytest.raises(RuntimeError, match="cancelled"):
        run_in_chunks(lambda a, b: np.zeros(b - a), 10, 2, progress=stop_after_first)
    assert done == [0.2]


def test_default_chunk_on_cpu():
    """Gradient batches keep every activation for the backward pass; forward-only ones do not, so
    they get larger chunks."""
    assert default_chunk_size() == 8
    assert default_chunk_size(forward=True) == 16


def test_gradient_chunks_shrink_for_models_with_large_feature_maps():
    """A backward pass's pool grows with the model's largest feature map: a chunk of 8 through VGG16
    (224 x 224 x 64 maps) grew it past 1.5 GB, so such a model gets the largest power of two that keeps
    the chunk under ``CPU_GRADIENT_CHUNK_BYTES``; a small model keeps the full chunk."""
    from explainers import batching
    from explainers._tf import keras

    inputs = keras.Input((224, 224, 3))
    features = keras.layers.Conv2D(64, 3, padding="same")(inputs)  # VGG16's largest map: 224 x 224 x 64
    wide = keras.Model(inputs, keras.layers.Dense(2)(keras.layers.GlobalAveragePooling2D()(features)))
    per_sample = batching.backward_sample_bytes(wide)
    assert per_sample == 224 * 224 * 64 * 4 * batching.BACKWARD_BYTES_PER_LARGEST_MAP_BYTE
    assert per_sample * 8 > batching.CPU_GRADIENT_CHUNK_BYTES >= per_sample * 4
    model = ExplainableModel(wide, "wide", labels=Labels.from_names(["a", "b"]), preprocess=lambda x: x)
    assert engine_for(model).chunk_size() == 4
    assert engine_for(model).chunk_size(forward=True) == batching.CPU_FORWARD_CHUNK
    assert default_chunk_size(batching.CPU_GRADIENT_CHUNK_BYTES // 3) == 2  # 3 fit: a power of two, 2
    assert default_chunk_size(batching.CPU_GRADIENT_CHUNK_BYTES * 2) == 1  # never below one sample


def test_forward_only_batches_use_the_forward_chunk(tiny_cnn, monkeypatch):
    """Scores of 40 copies (no gradients) go through in chunks of the forward size; input gradients
    of the same copies in chunks of the gradient size."""
    from explainers import batching
    from explainers.passes import Passes, PassKey

    monkeypatch.setattr(batching, "CPU_CHUNK", 4)
    monkeypatch.setattr(batching, "CPU_FORWARD_CHUNK", 16)
    engine = engine_for(tiny_cnn)
    calls = []
    original = engine.run
    monkeypatch.setattr(
        engine,
        "run",
        lambda key, inputs, targets, batched=False: (
            calls.append(len(inputs)) or original(key, inputs, targets, batched)
        ),
    )
    inputs = np.zeros((40, 16, 16, 3), np.float32)
    passes = Passes(tiny_cnn, inputs[:1], np.zeros(1, np.int32))
    passes.batch(PassKey(), inputs, 0, field="logits")
    forward, calls[:] = list(calls), []
    passes.batch(PassKey(None, input_grads=True), inputs, 0)
    assert forward == [16, 16, 8] and calls == [4] * 10, (forward, calls)


def test_tuples_of_results_are_joined_field_by_field():
    """A compute that returns (values, scores) gets each joined over the chunks, in order."""
    seen = []
    values, scores = run_in_chunks(
        lambda a, b: (np.arange(a, b)[:, None] * [1, 10], np.arange(a, b) * 0.5),
        5,
        2,
        on_chunk=lambda a, b, part: seen.append((a, b, len(part))),
    )
    np.testing.assert_array_equal(values, np.arange(5)[:, None] * [1, 10])
    np.testing.assert_array_equal(scores, np.arange(5) * 0.5)
    assert seen == [(0, 2, 2), (2, 4, 2), (4, 5, 2)]
