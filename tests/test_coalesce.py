"""Many users, one batch: requests coalesced into one batch get the maps of separate requests, each its
own class and layer; one request's cancel or error stays its own; window 0 and other models keep apart.

Explained (``explainers.many_pictures``) and gathered (``service.coalesce``) on the Shapes model and tiny
models, with threads released at once."""

from __future__ import annotations

import threading
import time

import numpy as np
import pytest

from explainers import api
from explainers.errors import ExplainerError
from explainers.many_pictures import PictureRequest, explain_many
from helpers import png_bytes
from service import ExplainerService
from service.coalesce import THREADS_PER_PICTURE, WINDOW_ENV, Coalescer, explain_together
from service.jobs import Cancelled

ONE_PASS = ("grad_cam", "vanilla_gradient", "gradient_x_input", "guided_grad_cam", "grad_cam_plus_plus")


def assert_same_maps(batched, alone) -> None:
    """Equal to float rounding: a convolution over a batch may sum in another order than over one picture
    (oneDNN picks its kernels by shape), which moves the last bits; on these models they come out equal."""
    assert batched.target == alone.target and batched.layer == alone.layer
    scale = float(np.abs(alone.heatmap).max()) or 1.0
    np.testing.assert_allclose(batched.heatmap, alone.heatmap, rtol=1e-5, atol=1e-6 * scale)


@pytest.fixture(scope="module")
def shapes():
    from explainers.models import load_model

    return load_model("shapes")


def pictures(count: int, seed: int = 0) -> list[np.ndarray]:
    rng = np.random.default_rng(seed)
    return [rng.integers(0, 256, (40 + 8 * i, 56, 3), dtype=np.uint8) for i in range(count)]


def fire(calls: list) -> list:
    """Run the calls in threads released together; each one's return value or exception, in order."""
    answers: list = [None] * len(calls)
    start = threading.Barrier(len(calls))

    def run(i: int) -> None:
        start.wait()
        try:
            answers[i] = calls[i]()
        except BaseException as error:  # noqa: BLE001 - the test looks at it
            answers[i] = error

    threads = [threading.Thread(target=run, args=(i,)) for i in range(len(calls))]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(120)
    return answers


# ---- the batch itself ---------------------------------------------------------------------------------
def test_batched_maps_equal_separate_maps_each_with_its_class_and_layer(shapes):
    images = pictures(5)
    requests = [
        PictureRequest(images[0], ONE_PASS),  # its top class, the recommended layer
        PictureRequest(images[1], ONE_PASS, target=2),
        PictureRequest(images[2], ONE_PASS, target="star"),
        PictureRequest(images[3], ONE_PASS, target=1, layer="conv4"),  # another layer: a pass of its own
        PictureRequest(images[4], ("grad_cam", "vanilla_gradient"), target=5, layer="conv4"),
    ]
    answers = explain_many(shapes, requests)
    for request, answer in zip(requests, answers):
        alone = api.explain_all(shapes, request.image, request.methods, target=request.target, layer=request.layer)
        assert list(answer) == list(request.methods)
        for name in request.methods:
            assert_same_maps(answer[name], alone[name])
    assert [answers[i]["grad_cam"].target for i in (1, 2, 3, 4)] == [2, shapes.resolve_target("star"), 1, 5]
    assert [answers[i]["grad_cam"].layer for i in (0, 3)] == [shapes.default_layer, "conv4"]
    # the first three share one batched pass; the last two need other passes (its own set of methods)
    assert [answer["grad_cam"].meta["batch"] for answer in answers] == [3, 3, 3, 1, 1]


def test_batched_maps_equal_separate_maps_on_tiny_models(tiny_cnn, gap_model, rng_image):
    # guided rules only on the gap model: tests/test_passes.py counts the guided passes traced for tiny_cnn
    for model, methods in ((tiny_cnn, ("grad_cam", "vanilla_gradient", "gradient_x_input")), (gap_model, ONE_PASS)):
        images = [rng_image(seed=seed) for seed in range(4)]
        requests = [PictureRequest(image, methods, target=i % 3) for i, image in enumerate(images)]
        for request, answer in zip(requests, explain_many(model, requests)):
            alone = api.explain_all(model, request.image, request.methods, target=request.target)
            for name in request.methods:
                assert_same_maps(answer[name], alone[name])
                assert answer[name].meta["batch"] == 4


def test_requests_for_one_picture_share_its_row_of_the_batch(shapes, monkeypatch):
    from explainers.passes import Passes

    prepared, prepare = [], Passes.prepare
    monkeypatch.setattr(Passes, "prepare", lambda self, keys: prepared.append(len(self.inputs)) or prepare(self, keys))
    first, second, third = pictures(3, seed=7)
    requests = [  # one person's two cards, sent apart, for each of two pictures; a third asks Grad-CAM only
        PictureRequest(first, ("grad_cam",), target=1),
        PictureRequest(first, ("vanilla_gradient",), target=1),
        PictureRequest(second, ("grad_cam",)),
        PictureRequest(second, ("vanilla_gradient",)),
        PictureRequest(third, ("grad_cam",), target=1),
    ]
    answers = explain_many(shapes, requests)
    assert sorted(prepared) == [1, 2]  # two pictures, both cards each, in one pass; the Grad-CAM-only one apart
    assert [next(iter(answer.values())).meta["batch"] for answer in answers] == [2, 2, 2, 2, 1]
    prepared.clear()
    for request, answer in zip(requests, answers):
        (name,) = request.methods
        assert_same_maps(answer[name], api.explain(shapes, request.image, name, target=request.target))


def test_an_error_answers_only_its_own_request(shapes):
    images = pictures(4)
    requests = [
        PictureRequest(images[0], ("grad_cam",), target=2),
        PictureRequest(images[1], ("grad_cam",), target=99),  # no such class
        PictureRequest(images[2], ("grad_cam",), layer="no_such_layer"),
        PictureRequest(np.zeros((4, 4), np.uint8), ("grad_cam",)),  # not an RGB picture
    ]
    answers = explain_many(shapes, requests)
    assert answers[0]["grad_cam"].target == 2
    assert isinstance(answers[1], ExplainerError) and "99" in str(answers[1])
    assert isinstance(answers[2], ExplainerError) and "no_such_layer" in str(answers[2])
    assert isinstance(answers[3], ExplainerError)


def test_a_failing_batched_pass_falls_back_to_one_picture_at_a_time(shapes, monkeypatch):
    from explainers.passes import Passes

    prepare = Passes.prepare

    def fails_for_batches(self, keys):
        if len(self.inputs) > 1:
            raise MemoryError("no room for a batch")
        return prepare(self, keys)

    monkeypatch.setattr(Passes, "prepare", fails_for_batches)
    images = pictures(3)
    answers = explain_many(shapes, [PictureRequest(image, ("grad_cam",), target=i) for i, image in enumerate(images)])
    for i, (image, answer) in enumerate(zip(images, answers)):
        assert_same_maps(answer["grad_cam"], api.explain(shapes, image, "grad_cam", target=i))
        assert answer["grad_cam"].meta["batch"] == 1


def test_with_xla_a_batch_runs_in_pieces_whose_sizes_are_powers_of_two(tiny_cnn, rng_image, monkeypatch):
    from explainers.compile_policy import ONE_PICTURE
    from explainers.engine import engine_for

    monkeypatch.setitem(engine_for(tiny_cnn).policy.xla, ONE_PICTURE, True)  # XLA compiles once per batch size
    requests = [PictureRequest(rng_image(seed=seed), ("grad_cam",), target=seed % 3) for seed in range(7)]
    answers = explain_many(tiny_cnn, requests)
    assert [answer["grad_cam"].meta["batch"] for answer in answers] == [4, 4, 4, 4, 2, 2, 1]
    for request, answer in zip(requests, answers):
        assert_same_maps(answer["grad_cam"], api.explain(tiny_cnn, request.image, "grad_cam", target=request.target))


# ---- gathering requests -------------------------------------------------------------------------------
def test_requests_in_the_window_make_one_batch_and_get_their_own_maps(shapes):
    coalescer = Coalescer(window=0.5, size=8)
    images, targets = pictures(4), [None, 2, 5, 1]
    layers = [None, None, None, "conv4"]
    calls = [
        lambda i=i: explain_together(
            coalescer, shapes, images[i], ["grad_cam", "vanilla_gradient"], targets[i], layers[i], {}
        )
        for i in range(4)
    ]
    answers = fire(calls)
    assert coalescer.sizes == [4]  # one batch for the four (its passes grouped by layer inside)
    for i, answer in enumerate(answers):
        alone = api.explain_all(shapes, images[i], ["grad_cam", "vanilla_gradient"], target=targets[i], layer=layers[i])
        for name in ("grad_cam", "vanilla_gradient"):
            assert_same_maps(answer[name], alone[name])


class HeldBatches:
    """A batch's compute (each item times 10) that records its batches' items, sorted, and holds a batch
    until ``release`` is set: every batch, or only the one with the item ``holding``."""

    def __init__(self, holding: int | None = None):
        self.batches: list[list[int]] = []
        self.release = threading.Event()
        self.holding = holding

    def __call__(self, items):
        self.batches.append(sorted(items))
        if self.holding is None or self.holding in items:
            self.release.wait(10)
        return [item * 10 for item in items]


def test_a_batch_counts_pictures_so_one_pictures_requests_share_it(shapes):
    coalescer = Coalescer(window=0.5, size=3)  # never full with two pictures: all three wait the window
    first, second = pictures(2, seed=3)
    asked = [(first, "grad_cam"), (first, "vanilla_gradient"), (second, "grad_cam")]
    calls = [
        lambda image=image, name=name: explain_together(coalescer, shapes, image, [name], 1, None, {})
        for image, name in asked
    ]
    answers = fire(calls)
    assert coalescer.sizes == [3] and coalescer.pictures == [2]
    assert coalescer.stats()["mean_pictures"] == 2.0
    for (image, name), answer in zip(asked, answers):
        assert_same_maps(answer[name], api.explain(shapes, image, name, target=1))


def test_a_request_joins_a_full_waiting_batch_that_holds_its_picture():
    coalescer = Coalescer(window=0.1, size=2)
    compute = HeldBatches(holding=0)  # the first batch holds the model's turn until released: the next ones wait
    computed, release = compute.batches, compute.release

    answers: dict[int, int] = {}
    threads = []

    def ask(item: int, row: str) -> None:
        thread = threading.Thread(target=lambda: answers.update({item: coalescer.run("model", item, compute, row=row)}))
        thread.start()
        threads.append(thread)
        time.sleep(0.05)

    ask(0, "x")
    deadline = time.monotonic() + 10
    while not computed and time.monotonic() < deadline:
        time.sleep(0.01)
    ask(1, "a")
    ask(2, "b")  # two pictures: the batch is full and waits for the model's turn
    ask(3, "a")  # the picture of a waiting batch: joins it, full as it is
    ask(4, "c")  # another picture: the next batch
    release.set()
    for thread in threads:
        thread.join(10)
    assert computed == [[0], [1, 2, 3], [4]]
    assert coalescer.sizes == [1, 3, 1] and coalescer.pictures == [1, 2, 1]
    assert answers == {item: item * 10 for item in range(5)}


def test_other_models_are_not_mixed(tiny_cnn, gap_model, rng_image):
    coalescer = Coalescer(window=0.5, size=8)
    seen: list[tuple[str, int]] = []

    def call(model, image, target):
        def compute(requests):
            seen.append((model.name, len(requests)))
            return explain_many(model, requests)

        request = PictureRequest(image, ("grad_cam",), target)
        return coalescer.run(id(model), request, compute)

    images = [rng_image(seed=seed) for seed in range(4)]
    models = [tiny_cnn, gap_model, tiny_cnn, gap_model]
    answers = fire([lambda i=i: call(models[i], images[i], i % 2) for i in range(4)])
    assert sorted(seen) == [("gap", 2), ("tiny_cnn", 2)]
    for model, image, answer, i in zip(models, images, answers, range(4)):
        assert answer["grad_cam"].model == model.name
        assert_same_maps(answer["grad_cam"], api.explain(model, image, "grad_cam", target=i % 2))


def test_window_zero_computes_each_request_alone():
    coalescer = Coalescer(window=0, size=8)
    batches: list[list[int]] = []

    def compute(items):
        batches.append(list(items))
        time.sleep(0.05)
        return [item * 10 for item in items]

    answers = fire([lambda i=i: coalescer.run("model", i, compute) for i in range(4)])
    assert answers == [0, 10, 20, 30] and sorted(batches) == [[0], [1], [2], [3]]
    assert not coalescer.on and coalescer.sizes == []


class Switch:
    """A request's progress callback that raises ``Cancelled`` once its switch is on, as a job's does."""

    def __init__(self):
        self.on = threading.Event()
        self.seen: list[float] = []

    def __call__(self, fraction: float) -> None:
        self.seen.append(fraction)
        if self.on.is_set():
            raise Cancelled("Stopped.")


def test_a_cancelled_request_leaves_its_batch_alone():
    coalescer = Coalescer(window=0.6, size=8)
    computed: list[list[int]] = []

    def compute(items):
        computed.append(list(items))
        return [item * 10 for item in items]

    switches = [Switch() for _ in range(3)]
    switches[2].on.set()  # cancelled while the batch is still open: not computed at all
    answers = fire([lambda i=i: coalescer.run("model", i, compute, switches[i]) for i in range(3)])
    assert isinstance(answers[2], Cancelled)  # whether it opened the batch or joined it
    assert answers[:2] == [0, 10] and [sorted(items) for items in computed] == [[0, 1]]
    assert switches[0].seen[-1] == 1.0 and switches[1].seen[-1] == 1.0


def test_a_request_cancelled_while_its_batch_computes_stops_alone_and_the_opener_computes_for_others():
    coalescer = Coalescer(window=0.3, size=8)
    compute = HeldBatches()
    computed, release = compute.batches, compute.release

    switches = [Switch() for _ in range(3)]
    answers: list = [None] * 3

    def run(i):
        try:
            answers[i] = coalescer.run("model", i, compute, switches[i])
        except Cancelled as error:
            answers[i] = error

    first = threading.Thread(target=run, args=(0,))
    first.start()  # opens the batch: it computes for everyone
    time.sleep(0.05)
    others = [threading.Thread(target=run, args=(i,)) for i in (1, 2)]
    for thread in others:
        thread.start()
    deadline = time.monotonic() + 10
    while not computed and time.monotonic() < deadline:
        time.sleep(0.01)
    assert computed == [[0, 1, 2]]
    switches[0].on.set()  # the opener's own request is cancelled mid-batch
    switches[1].on.set()  # and one that joined
    others[0].join(5)  # leaves at its next check, without waiting for the batch
    assert isinstance(answers[1], Cancelled) and answers[2] is None
    release.set()
    for thread in (first, *others):
        thread.join(10)
    assert answers[2] == 20  # the one still waiting gets its answer
    assert isinstance(answers[0], Cancelled)  # the opener computed it, then stopped for itself


# ---- through the service: the local job runner's threads --------------------------------------------
@pytest.fixture
def shapes_service(tmp_path, monkeypatch):
    monkeypatch.setenv(WINDOW_ENV, "400")
    svc = ExplainerService(tmp_path)
    svc.load("shapes")
    return svc


def test_service_coalesces_maps_of_many_users(shapes_service, tmp_path, monkeypatch):
    svc = shapes_service
    keys = [svc.add_image(png_bytes(64, 48, seed=seed)) for seed in range(5)]
    asked = [(keys[0], None, None), (keys[1], 3, None), (keys[2], 1, "conv4"), (keys[3], 6, None), (keys[4], 0, None)]
    calls = [
        lambda key=key, target=target, layer=layer: svc.explain(key, "shapes", "grad_cam", target, layer, client=key)
        for key, target, layer in asked
    ]
    results = fire(calls)
    assert max(svc.coalescer.sizes) >= 2, svc.coalescer.sizes  # they arrived together: batched
    assert svc.jobs.express == THREADS_PER_PICTURE * svc.coalescer.size  # waiting threads: a picture's requests meet
    monkeypatch.setenv(WINDOW_ENV, "0")
    alone = ExplainerService(tmp_path / "alone")
    assert not alone.coalescer.on and alone.jobs.express == 1
    for seed, (key, target, layer), result in zip(range(5), asked, results):
        assert alone.add_image(png_bytes(64, 48, seed=seed)) == key
        assert_same_maps(result, alone.explain(key, "shapes", "grad_cam", target, layer))
    assert alone.coalescer.sizes == []


def test_service_cancel_stops_one_job_of_a_batch(shapes_service):
    svc = shapes_service
    keys = [svc.add_image(png_bytes(64, 48, seed=10 + seed)) for seed in range(3)]
    jobs = [svc.request_map(key, "shapes", "vanilla_gradient", client=key) for key in keys]
    time.sleep(0.1)  # in the coalescer's window (or still queued): either way it leaves alone
    assert svc.jobs.cancel(jobs[1].id, client=keys[1])
    for job in jobs:
        job.wait(60)
    assert [job.status for job in jobs] == ["done", "cancelled", "done"]
    assert 2 in svc.coalescer.sizes
