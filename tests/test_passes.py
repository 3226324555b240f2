"""Shared passes: one trace per kind of pass, and explain_all merging methods into fewer passes."""

import numpy as np

from explainers import explain, explain_all
from explainers.api import logits_of, predict
from explainers.compile_policy import GRADIENT_BATCHES, ONE_PICTURE, CompilePolicy
from explainers.engine import Engine, engine_for
from explainers.passes import Passes, PassKey


def test_no_retrace_on_repeated_calls_or_other_batch_sizes(tiny_cnn, rng_image):
    image = rng_image(16, 16, seed=1)
    explain(tiny_cnn, image, "grad_cam", layer="conv1")
    explain(tiny_cnn, image, "vanilla_gradient")
    before = dict(engine_for(tiny_cnn).trace_count)
    for seed in range(3):
        explain(tiny_cnn, rng_image(16, 16, seed=seed), "grad_cam", layer="conv1", target=seed)
        explain(tiny_cnn, rng_image(16, 16, seed=seed), "vanilla_gradient")
    batch = tiny_cnn.preprocess(np.stack([rng_image(16, 16, seed=s) for s in range(4)]))
    Passes(tiny_cnn, batch, np.zeros(4, np.int32)).get(PassKey("conv1", layer_grads=True))
    assert engine_for(tiny_cnn).trace_count == before
    assert all(count == 1 for count in before.values())


def test_explain_all_shares_one_backward_pass(tiny_cnn, rng_image):
    image = rng_image(16, 16, seed=2)
    maps = explain_all(tiny_cnn, image, ["grad_cam", "vanilla_gradient", "gradient_x_input"], layer="conv2")
    assert {e.meta["shared_passes"] for e in maps.values()} == {1}
    for name, e in maps.items():
        alone = explain(tiny_cnn, image, name, layer="conv2")
        np.testing.assert_allclose(e.heatmap, alone.heatmap, rtol=1e-5, atol=1e-8)
        assert e.target == alone.target


def test_explain_all_with_guided_methods_shares_one_forward_pass(tiny_cnn, rng_image):
    """Guided backpropagation and DeconvNet ride along on the plain pass: one forward pass, then one
    backward pass per ReLU rule, and every map equal to the one its method computes alone (where each
    rule has a pass of its own)."""
    image = rng_image(16, 16, seed=6)
    names = ["grad_cam", "guided_grad_cam", "guided_backprop", "vanilla_gradient", "deconvnet"]
    engine = engine_for(tiny_cnn)
    maps = explain_all(tiny_cnn, image, names)
    assert {e.meta["shared_passes"] for e in maps.values()} == {1}
    shared = [key for key in engine.trace_count if key[0].also]
    assert [key[0].also for key in shared] == [("guided", "deconv")] and shared[0][0].relu == "plain"
    for name in names:
        alone = explain(tiny_cnn, image, name)
        np.testing.assert_allclose(maps[name].heatmap, alone.heatmap, rtol=1e-5, atol=1e-7, err_msg=name)
    guided = explain(tiny_cnn, image, "guided_backprop").heatmap
    plain = explain(tiny_cnn, image, "vanilla_gradient").heatmap
    assert not np.allclose(guided / guided.max(), plain / plain.max(), atol=1e-3)  # the rules did differ
    deconv = explain(tiny_cnn, image, "deconvnet").heatmap
    assert not np.allclose(guided / guided.max(), deconv / deconv.max(), atol=1e-3)


def test_a_model_with_relu_layers_keeps_a_pass_per_rule(tiny_cnn):
    """Where the ReLU gradients cannot be swapped (keras.layers.ReLU layers), the rules are not folded
    into the plain pass, which still runs; a guided pass says plainly that it cannot."""
    from conftest import _tiny_model
    from explainers._tf import keras

    inputs = keras.Input((16, 16, 3))
    x = keras.layers.Conv2D(4, 3, padding="same", name="conv")(inputs)
    x = keras.layers.ReLU(name="relu")(x)
    x = keras.layers.GlobalAveragePooling2D()(x)
    model = _tiny_model(keras.Model(inputs, keras.layers.Dense(3)(x)), "relu_layers", 3, default_layer="conv")
    assert engine_for(tiny_cnn).shares_forward(["guided", "deconv"])
    assert not engine_for(model).shares_forward(["guided"])
    image = np.random.default_rng(7).integers(0, 256, (16, 16, 3), dtype=np.uint8)
    passes = Passes(model, model.preprocess(image[None].astype(np.float32)), np.array([1], np.int32))
    passes.prepare([PassKey("conv", layer_grads=True, input_grads=True)])
    assert passes.passes_run == [PassKey("conv", layer_grads=True, input_grads=True)]
    try:
        passes.prepare([PassKey(None, input_grads=True, relu="guided")])
    except NotImplementedError as error:
        assert "keras.layers.ReLU" in str(error)
    else:
        raise AssertionError("guided backpropagation through keras.layers.ReLU layers should say it cannot")


def test_rules_not_folded_when_the_forward_pass_cannot_be_shared(tiny_cnn, monkeypatch):
    monkeypatch.setattr(Engine, "shares_forward", lambda self, rules: False)
    inputs = tiny_cnn.preprocess(np.zeros((1, 16, 16, 3), np.float32))
    passes = Passes(tiny_cnn, inputs, np.array([1], np.int32))
    passes.prepare([PassKey("conv2", layer_grads=True), PassKey(None, input_grads=True, relu="guided")])
    assert [(key.relu, key.also) for key in passes.passes_run] == [("plain", ()), ("guided", ())]


def test_deconvnet_of_a_given_class_runs_a_pass_without_logits(tiny_cnn, rng_image, monkeypatch):
    """DeconvNet with its class given runs one lean pass (no logits, so TensorFlow may drop the forward
    layers its backward pass never reads): the same map as a pass with logits; the top-5 costs one
    forward pass when read and matches a direct one. Asked for the top class, or sharing a forward pass
    with other rules, it keeps the logits."""
    engine = Engine
    image = rng_image(16, 16, seed=12)
    lean = explain(tiny_cnn, image, "deconvnet", target=3)
    monkeypatch.setattr(engine, "lean", lambda self, key: False)
    full = explain(tiny_cnn, image, "deconvnet", target=3)
    monkeypatch.undo()
    np.testing.assert_allclose(lean.heatmap, full.heatmap, rtol=1e-6, atol=1e-9)
    assert np.abs(lean.heatmap).max() > 0

    inputs = tiny_cnn.preprocess(tiny_cnn.prepare(image)[None])
    tiny_cnn.logits_memo.clear()  # as if the photo were new (the explains above left its logits there)
    passes = Passes(tiny_cnn, inputs, np.array([3], np.int32))
    result = passes.get(PassKey(None, input_grads=True, relu="deconv"))
    assert result.logits is None and [key.logits for key in passes.passes_run] == [False]
    assert not passes.has_logits
    np.testing.assert_allclose(passes.logits[0], logits_of(tiny_cnn, image), rtol=1e-5, atol=1e-6)
    assert passes.has_logits and [key.logits for key in passes.passes_run] == [False, True]
    assert [p[0] for p in lean.predictions] == list(np.argsort(-logits_of(tiny_cnn, image))[:5])

    top1 = Passes(tiny_cnn, inputs, np.array([-1], np.int32))
    top1.get(PassKey(None, input_grads=True, relu="deconv"))
    assert [key.logits for key in top1.passes_run] == [True]
    assert not engine_for(tiny_cnn).lean(PassKey(None, input_grads=True, relu="guided"))
    assert not engine_for(tiny_cnn).lean(PassKey(None, input_grads=True))
    assert not engine_for(tiny_cnn).lean(PassKey(None, input_grads=True, also=("deconv",)))


def test_explain_all_can_return_errors_in_place(linear_model, rng_image):
    maps = explain_all(linear_model, rng_image(), ["cam", "vanilla_gradient"], on_error="return")
    assert isinstance(maps["cam"], ValueError) and "CAM does not apply" in str(maps["cam"])
    assert maps["vanilla_gradient"].heatmap.shape == (8, 8)


def test_top1_is_resolved_inside_the_pass(tiny_cnn, rng_image):
    image = rng_image(16, 16, seed=3)
    e = explain(tiny_cnn, image, "grad_cam")
    assert e.target == int(np.argmax(logits_of(tiny_cnn, image))) == e.predictions[0][0]
    assert abs(sum(p for _, _, p in predict(tiny_cnn, image, top=5)) - 1.0) < 1e-6  # all 5 classes


def test_batches_can_compile_apart_from_one_picture_passes(rng_image, monkeypatch):
    """A model may use XLA for its many-sample batches only: same numbers, traced once each, warmed."""
    from explainers._tf import keras
    from explainers.labels import Labels
    from explainers.models import ExplainableModel

    keras.utils.set_random_seed(7)
    inputs = keras.Input((16, 16, 3))
    x = keras.layers.Conv2D(4, 3, padding="same", activation="relu", name="conv")(inputs)
    logits = keras.layers.Dense(3, name="logits")(keras.layers.GlobalAveragePooling2D()(x))
    net = keras.Model(inputs, logits)
    labels = Labels.from_names(["a", "b", "c"])
    mixed = ExplainableModel(net, "mixed", labels=labels, preprocess=lambda v: v / 255.0)
    engine_for(mixed, CompilePolicy.guess([GRADIENT_BATCHES]))
    plain = ExplainableModel(net, "plain", labels=labels, preprocess=lambda v: v / 255.0)
    assert (engine_for(mixed).jit(batched=False), engine_for(mixed).jit(batched=True)) == (False, True)
    assert engine_for(mixed).jit(batched=True, gradients=False) is False  # forward-only batches: graph mode
    assert (engine_for(plain).jit(batched=False), engine_for(plain).jit(batched=True)) == (False, False)
    gradients, scores = PassKey(None, input_grads=True), PassKey()
    assert engine_for(plain).warm_batches(4) == [gradients, scores]  # graph mode: traced once, no shape to compile
    assert engine_for(plain).trace_count == {(gradients, False): 1, (scores, False): 1}

    runs = []
    real_run = engine_for(mixed).run
    monkeypatch.setattr(
        engine_for(mixed), "run", lambda key, x, *a, **k: runs.append(len(x)) or real_run(key, x, *a, **k)
    )
    warmed = engine_for(mixed).warm_batches(4)
    assert warmed == [gradients, scores]
    assert runs == [4, 2, 1]  # XLA compiles per shape: the chunk's and the smaller pieces stable mode starts with
    traced = dict(engine_for(mixed).trace_count)
    assert traced == {(gradients, True): 1, (scores, False): 1}
    batch = mixed.preprocess(np.stack([rng_image(16, 16, seed=s) for s in range(6)]).astype(np.float32))
    key = PassKey(None, input_grads=True)
    compiled = Passes(mixed, batch[:1], np.zeros(1, np.int32)).batch(key, batch, np.arange(6) % 3, chunk=4)
    graph = Passes(plain, batch[:1], np.zeros(1, np.int32)).batch(key, batch, np.arange(6) % 3, chunk=4)
    np.testing.assert_allclose(compiled, graph, rtol=1e-4, atol=1e-6)
    assert np.abs(graph).max() > 0
    assert engine_for(mixed).trace_count == traced  # no retrace
    Passes(mixed, batch[:2], np.zeros(2, np.int32)).get(PassKey())  # a one-picture pass: graph mode
    assert engine_for(mixed).trace_count[(PassKey(), False)] == 1


def test_xla_batches_run_as_power_of_two_pieces_and_give_several_fields(rng_image, monkeypatch):
    """Seven samples in a chunk of eight run as 4 + 2 + 1 under XLA (few compiled shapes, no padding rows
    computed for nothing), with the same gradients and logits as graph mode's single call."""
    from explainers._tf import keras
    from explainers.labels import Labels
    from explainers.models import ExplainableModel

    keras.utils.set_random_seed(8)
    inputs = keras.Input((16, 16, 3))
    x = keras.layers.Conv2D(4, 3, padding="same", activation="relu", name="conv")(inputs)
    net = keras.Model(inputs, keras.layers.Dense(3, name="logits")(keras.layers.GlobalAveragePooling2D()(x)))
    labels = Labels.from_names(["a", "b", "c"])
    compiled = ExplainableModel(net, "pieces", labels=labels, preprocess=lambda v: v / 255.0)
    engine_for(compiled, CompilePolicy.guess([GRADIENT_BATCHES]))
    plain = ExplainableModel(net, "whole", labels=labels, preprocess=lambda v: v / 255.0)
    sizes = {"pieces": [], "whole": []}
    for model in (compiled, plain):
        original = engine_for(model).run
        monkeypatch.setattr(
            engine_for(model),
            "run",
            lambda key, inputs, targets, batched=False, _o=original, _s=sizes[model.name]: (
                _s.append(len(inputs)) or _o(key, inputs, targets, batched=batched)
            ),
        )
    batch = compiled.preprocess(np.stack([rng_image(16, 16, seed=s) for s in range(7)]).astype(np.float32))
    key, fields, targets = PassKey(None, input_grads=True), ("input_grads", "logits"), np.arange(7) % 3
    seen = []
    grads, logits = Passes(compiled, batch[:1], np.zeros(1, np.int32)).batch(
        key, batch, targets, field=fields, chunk=8, on_chunk=lambda a, b, values: seen.append((a, b, len(values)))
    )
    whole_grads, whole_logits = Passes(plain, batch[:1], np.zeros(1, np.int32)).batch(
        key, batch, targets, field=fields, chunk=8
    )
    assert sizes == {"pieces": [4, 2, 1], "whole": [7]} and seen == [(0, 7, 2)]
    scores = Passes(compiled, batch[:1], np.zeros(1, np.int32)).batch(
        PassKey(), batch, targets, field="logits", chunk=8
    )
    assert sizes["pieces"][3:] == [7]  # forward-only batches run in graph mode: one call, no pieces
    np.testing.assert_allclose(scores, whole_logits, rtol=1e-4, atol=1e-5)
    assert grads.shape == batch.shape and logits.shape == (7, 3)
    np.testing.assert_allclose(grads, whole_grads, rtol=1e-4, atol=1e-6)
    np.testing.assert_allclose(logits, whole_logits, rtol=1e-4, atol=1e-5)
    np.testing.assert_allclose(logits, net(batch).numpy(), rtol=1e-4, atol=1e-5)
    assert np.abs(grads).max() > 0


def test_predictions_cost_a_pass_only_when_read_and_only_once(tiny_cnn, rng_image, monkeypatch):
    """RISE with a given class never runs the picture itself through the model: its top-5 is computed
    when first read (one forward pass, equal to a direct one), kept, and pickled as the list."""
    import pickle

    image = rng_image(16, 16, seed=9)
    calls = []
    original = engine_for(tiny_cnn).run
    monkeypatch.setattr(
        engine_for(tiny_cnn),
        "run",
        lambda key, inputs, targets, batched=False: (
            calls.append(batched) or original(key, inputs, targets, batched=batched)
        ),
    )
    e = explain(tiny_cnn, image, "rise", target=1, n_masks=8)
    assert calls and all(calls)  # only the masks' batches so far
    batches = len(calls)
    first = e.predictions
    assert calls[batches:] == [False]  # one pass of the picture
    logits = logits_of(tiny_cnn, image)
    assert [p[0] for p in first] == list(np.argsort(-logits)[:5])
    assert e.predictions is first and len(calls) == batches + 2  # read again: nothing more (+1: logits above)
    restored = pickle.loads(pickle.dumps(e))
    assert restored.predictions == first and len(calls) == batches + 2
    calls.clear()
    top1 = explain(tiny_cnn, image, "rise", n_masks=8)  # the top class needs the picture's pass anyway
    runs = len(calls)
    assert [p[0] for p in top1.predictions] == [p[0] for p in first] and len(calls) == runs


def test_recurring_inputs_run_once_per_model_and_are_recalled_by_content(tiny_cnn, rng_image, monkeypatch):
    """A black baseline's logits are the same for every photo: the forward pass runs once per model;
    a batch mixing a known and a new row runs only the new one; the memo keeps at most ``size`` rows."""
    from explainers.passes import LogitsMemo

    monkeypatch.setattr(tiny_cnn, "logits_memo", LogitsMemo())  # the model is shared by the session's tests
    sizes = []
    original = engine_for(tiny_cnn).run
    monkeypatch.setattr(
        engine_for(tiny_cnn),
        "run",
        lambda key, inputs, targets, batched=False: (
            sizes.append(len(inputs)) or original(key, inputs, targets, batched=batched)
        ),
    )
    black = tiny_cnn.preprocess(np.zeros((1, 16, 16, 3), np.float32))
    photo = tiny_cnn.preprocess(rng_image(16, 16, seed=3)[None].astype(np.float32))
    first = Passes(tiny_cnn, photo, np.zeros(1, np.int32)).remembered_logits(black, 0)
    again = Passes(tiny_cnn, photo, np.ones(1, np.int32)).remembered_logits(black.copy(), 2)  # another request
    both = Passes(tiny_cnn, photo, np.zeros(1, np.int32)).remembered_logits(np.concatenate([photo, black]), 0)
    assert sizes == [1, 1]  # black once, then the photo's row alone
    np.testing.assert_allclose(first, tiny_cnn.keras(black).numpy(), rtol=1e-5, atol=1e-6)
    np.testing.assert_array_equal(again, first)
    np.testing.assert_array_equal(both[1], first[0])
    np.testing.assert_allclose(both[0], tiny_cnn.keras(photo).numpy()[0], rtol=1e-5, atol=1e-6)

    memo, computed = LogitsMemo(size=2), []
    rows = [np.full((1, 2), float(i), np.float32) for i in range(3)]
    for row in (rows[0], rows[1], rows[0], rows[2], rows[0], rows[1]):
        np.testing.assert_array_equal(memo.logits(row, lambda r: computed.append(float(r[0, 0])) or r * 10), row * 10)
    assert computed == [0.0, 1.0, 2.0, 1.0] and len(memo) == 2  # 0 was used after 1, so 1 went first


def test_a_photo_seen_before_needs_no_forward_pass_for_its_logits(tiny_cnn, rng_image, monkeypatch):
    """The upload's pass leaves the photo's logits in the model's memo: a later request on the same
    photo takes its top-5 and its "top-1" from there instead of a forward pass of its own; another
    photo still runs one."""
    runs = []
    original = engine_for(tiny_cnn).run
    monkeypatch.setattr(
        engine_for(tiny_cnn),
        "run",
        lambda key, inputs, targets, batched=False: (
            runs.append((key, batched)) or original(key, inputs, targets, batched=batched)
        ),
    )
    image = rng_image(16, 16, seed=21)
    upload = explain(tiny_cnn, image, "grad_cam")  # top-1 with its top-5, as on upload
    assert len(runs) == 1 and runs[0][0].logits

    runs.clear()
    lean = explain(tiny_cnn, image, "deconvnet", target=3)
    assert [(key.logits, batched) for key, batched in runs] == [(False, False)]  # the lean pass alone
    assert not callable(lean.predictions) and lean.predictions == upload.predictions

    runs.clear()
    rise = explain(tiny_cnn, image, "rise", n_masks=4)  # "top-1": known from the memo, not from a pass
    assert runs and all(batched for _, batched in runs) and rise.target == upload.target

    runs.clear()
    other = explain(tiny_cnn, rng_image(16, 16, seed=22), "rise", n_masks=4)
    assert [batched for _, batched in runs].count(False) == 1  # a new photo: its forward pass runs
    assert other.target == int(np.argmax(logits_of(tiny_cnn, rng_image(16, 16, seed=22))))


def test_a_model_whose_weights_change_in_place_keeps_no_logits(tiny_cnn):
    """The trust checks randomize a copy's layers in place: its baseline logits must follow."""
    from explainers.evaluation import randomizable_copy, randomize_layer

    copy = randomizable_copy(tiny_cnn)
    white = copy.preprocess(np.full((1, 16, 16, 3), 255.0, np.float32))
    before = Passes(copy, white, np.zeros(1, np.int32)).remembered_logits(white, 0)
    randomize_layer(copy.keras.get_layer("logits"), seed=5)
    after = Passes(copy, white, np.zeros(1, np.int32)).remembered_logits(white, 0)
    np.testing.assert_allclose(after, copy.keras(white).numpy(), rtol=1e-5, atol=1e-6)
    assert not np.allclose(before, after)


def test_progress_never_runs_backwards_around_a_remembered_pass(tiny_cnn, rng_image, monkeypatch):
    """Score-CAM's black picture and IG's baseline are small passes of their own: the fraction they
    report stays inside the method's span instead of jumping to 100 % and back."""
    from explainers import batching
    from explainers.passes import LogitsMemo

    monkeypatch.setattr(batching, "CPU_CHUNK", 2)  # several chunks, so a jump to 100 % would show
    monkeypatch.setattr(batching, "CPU_FORWARD_CHUNK", 2)
    for method, params in (("score_cam_fast", {"top_k": 4}), ("integrated_gradients", {"steps": 4})):
        monkeypatch.setattr(tiny_cnn, "logits_memo", LogitsMemo())  # so the remembered pass really runs
        seen = []
        explain(tiny_cnn, rng_image(16, 16, seed=4), method, target=1, progress=seen.append, **params)
        assert seen == sorted(seen) and seen[-1] == 1.0, (method, seen)


def test_gradient_batches_keep_whichever_compile_ran_faster(tiny_cnn, monkeypatch):
    """tune_batches times a chunk of input gradients with XLA and in graph mode and keeps the faster;
    the gradients are the same either way, and a forced EXPLAINERS_JIT is left alone."""
    import numpy as np

    from explainers.passes import PassKey

    engine = _fresh_engine(tiny_cnn)
    inputs = np.random.default_rng(3).normal(size=(4, 16, 16, 3)).astype(np.float32)
    key, targets = PassKey(None, input_grads=True), np.array([0, 1, 2, 3], np.int32)
    for xla_seconds, kept in ((1.0, True), (3.0, False)):
        timer = lambda run: (run(), xla_seconds if engine.policy.xla[GRADIENT_BATCHES] else 2.0)[1]  # noqa: E731
        seconds = engine.tune_batches(4, timer=timer)
        assert seconds == {True: xla_seconds, False: 2.0} and engine.policy.xla[GRADIENT_BATCHES] is kept
        assert engine.trace_count[(key, kept)] == 1  # each way traced once, kept across tunings
        np.testing.assert_allclose(
            engine.run(key, inputs, targets, batched=True).input_grads,
            _fresh_engine(tiny_cnn).run(key, inputs, targets, batched=True).input_grads,
            rtol=1e-4,
            atol=1e-6,
        )
    monkeypatch.setenv("EXPLAINERS_JIT", "1")
    forced = _fresh_engine(tiny_cnn)
    assert forced.tune_batches(4, timer=lambda run: 0.0) == {} and forced.policy.xla[GRADIENT_BATCHES] is True


def test_one_picture_passes_keep_whichever_compile_ran_faster(tiny_cnn, monkeypatch):
    """tune_passes does the same for the passes over one picture: it times the default view's plain pass
    (gradients to the recommended layer and to the input) both ways, in turns, and keeps the faster;
    the gradient batches' choice is left alone, and the maps are the same either way."""
    import numpy as np

    from explainers.passes import PassKey

    engine = _fresh_engine(tiny_cnn)
    batches = engine.policy.xla[GRADIENT_BATCHES]
    key = PassKey(tiny_cnn.default_layer, layer_grads=True, input_grads=True)
    inputs = np.random.default_rng(5).normal(size=(1, 16, 16, 3)).astype(np.float32)
    order = []
    for xla_seconds, kept in ((0.5, True), (4.0, False)):

        def timer(run, xla_seconds=xla_seconds):
            run()
            order.append(engine.policy.xla[ONE_PICTURE])
            return xla_seconds if engine.policy.xla[ONE_PICTURE] else 2.0

        order.clear()
        seconds = engine.tune_passes(timer=timer)
        assert seconds == {True: xla_seconds, False: 2.0} and engine.policy.xla[ONE_PICTURE] is kept
        assert order[0] != order[1] and order[1] != order[2] and len(order) == 6  # in turns, 3 rounds
        assert engine.policy.xla[GRADIENT_BATCHES] is batches and engine.trace_count[(key, kept)] == 1
        got = engine.run(key, inputs, np.array([1], np.int32))
        want = _fresh_engine(tiny_cnn).run(key, inputs, np.array([1], np.int32))
        np.testing.assert_allclose(got.layer_grads, want.layer_grads, rtol=1e-4, atol=1e-6)
        np.testing.assert_allclose(got.input_grads, want.input_grads, rtol=1e-4, atol=1e-6)
    monkeypatch.setenv("EXPLAINERS_JIT", "0")
    forced = _fresh_engine(tiny_cnn)
    assert forced.tune_passes(timer=lambda run: 0.0) == {} and forced.policy.xla[ONE_PICTURE] is False


def _fresh_engine(model) -> Engine:
    """An engine of ``model``'s Keras model of its own (not the one ``engine_for`` shares)."""
    return Engine(model.keras, model.preprocess, model.default_layer, CompilePolicy.for_model(model.name))
