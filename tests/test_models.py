"""The model registry, weights resolution and the input helpers."""

import inspect

import numpy as np
import pytest

from explainers import ImageError, UnknownNameError, WeightsError
from explainers import weights as weights_mod
from explainers.api import logits_of
from explainers.models import load_model, prepare_image, resolve_model_name


@pytest.fixture
def no_weights_here(tmp_path, monkeypatch):
    """An empty Keras cache and no offline weights folder."""
    monkeypatch.setenv("KERAS_HOME", str(tmp_path / "keras"))
    monkeypatch.delenv(weights_mod.WEIGHTS_DIR_ENV, raising=False)
    return tmp_path


def test_weights_constants_match_keras_own():
    from keras.src.applications import inception_v3, resnet, vgg16

    assert weights_mod.IMAGENET_WEIGHTS["vgg16"].url == vgg16.WEIGHTS_PATH
    assert weights_mod.IMAGENET_WEIGHTS["inception_v3"].url == inception_v3.WEIGHTS_PATH
    resnet_file = weights_mod.IMAGENET_WEIGHTS["resnet50"]
    assert resnet_file.url == resnet.BASE_WEIGHTS_PATH + resnet_file.filename
    assert resnet_file.md5 == resnet.WEIGHTS_HASHES["resnet50"][0]
    for name, module in (("vgg16", vgg16), ("inception_v3", inception_v3)):
        spec = weights_mod.IMAGENET_WEIGHTS[name]
        source = inspect.getsource(module)
        assert spec.md5 in source and spec.filename in source


def test_model_names_and_aliases():
    assert resolve_model_name("VGG16") == "vgg16" and resolve_model_name("InceptionV3") == "inception_v3"
    with pytest.raises(UnknownNameError, match="Unknown model 'alexnet'.*vgg16, resnet50, inception_v3"):
        resolve_model_name("alexnet")


def test_status_says_where_weights_stand(no_weights_here, monkeypatch):
    monkeypatch.delenv(weights_mod.OFFLINE_ENV, raising=False)
    state = weights_mod.status("resnet50")
    assert state.state == "download" and "98 MB" in state.message
    monkeypatch.setenv(weights_mod.OFFLINE_ENV, "1")
    state = weights_mod.status("resnet50")
    assert state.state == "missing"
    for phrase in (
        "resnet50_weights_tf_dim_ordering_tf_kernels.h5",
        "98 MB",
        "EXPLAINERS_WEIGHTS_DIR",
        "python -m explainers fetch-weights --model resnet50",
        str(no_weights_here / "keras"),
    ):
        assert phrase in state.message
    folder = no_weights_here / "offline"
    folder.mkdir()
    (folder / "resnet50_weights_tf_dim_ordering_tf_kernels.h5").write_bytes(b"x")
    monkeypatch.setenv(weights_mod.WEIGHTS_DIR_ENV, str(folder))
    assert weights_mod.status("resnet50").state == "ready"


def test_missing_imagenet_weights_offline_is_a_plain_error(no_weights_here, monkeypatch):
    monkeypatch.setenv(weights_mod.OFFLINE_ENV, "1")
    with pytest.raises(WeightsError, match="not on this computer.*fetch-weights --model vgg16"):
        load_model("vgg16", weights="imagenet", cache=False)


def test_failed_download_is_a_plain_error_and_builds_nothing(no_weights_here, monkeypatch):
    import keras

    monkeypatch.delenv(weights_mod.OFFLINE_ENV, raising=False)

    def offline_download(*args, **kwargs):
        raise Exception("URL fetch failure on https://example: None -- [Errno -2] Name or service not known")

    def builder(**kwargs):  # a model built before its weights are here is memory spent for nothing
        raise AssertionError("the model was built although its weights could not be fetched")

    monkeypatch.setattr(keras.utils, "get_file", offline_download)
    monkeypatch.setattr(keras.applications, "InceptionV3", builder)
    with pytest.raises(WeightsError) as caught:
        load_model("inception_v3", weights="imagenet", cache=False)
    assert "no internet connection" in str(caught.value) and "92 MB" in str(caught.value)
    assert "Traceback" not in str(caught.value)


def test_a_file_that_is_no_weights_file_is_refused_before_building(no_weights_here, monkeypatch):
    import keras

    folder = no_weights_here / "offline"
    folder.mkdir()
    (folder / "vgg16_weights_tf_dim_ordering_tf_kernels.h5").write_bytes(b"<html>not found</html>")
    monkeypatch.setattr(keras.applications, "VGG16", lambda **kwargs: pytest.fail("built for nothing"))
    with pytest.raises(WeightsError, match="could not be loaded into VGG16.*not an HDF5 file"):
        load_model("vgg16", weights="imagenet", weights_dir=folder, cache=False)


def test_damaged_weights_file_is_a_plain_error(no_weights_here):
    folder = no_weights_here / "offline"
    folder.mkdir()
    (folder / "resnet50_weights_tf_dim_ordering_tf_kernels.h5").write_bytes(b"\x89HDF\r\n" + b"\0" * 100)
    with pytest.raises(WeightsError, match="could not be loaded into ResNet50.*damaged"):
        load_model("resnet50", weights="imagenet", weights_dir=folder, cache=False)


def test_missing_weights_file_path(no_weights_here):
    with pytest.raises(WeightsError, match="There is no weights file at"):
        load_model("vgg16", weights=str(no_weights_here / "nope.h5"))


@pytest.mark.slow
def test_weights_file_round_trip(tmp_path, registry_models, rng_image):
    original = registry_models("resnet50")
    path = tmp_path / "mine.weights.h5"
    original.keras.save_weights(path)
    loaded = load_model("resnet50", weights=str(path), cache=False)
    image = rng_image(64, 64)
    np.testing.assert_allclose(logits_of(loaded, image), logits_of(original, image), rtol=1e-4, atol=1e-5)
    assert loaded.weights_id.startswith("file:") and not loaded.random_weights


def test_models_are_cached_per_process():
    # compared with each other, not with the session's fixture: by now other tests may have loaded more
    # models than stay resident, and the least recently used one was let go
    first = load_model("vgg16", weights=None, seed=0)
    assert load_model("VGG16", weights="none", seed=0) is first
    assert load_model("vgg", weights=None, seed=0) is first


def test_prepare_image_resizes_only_when_needed():
    image = np.random.default_rng(0).integers(0, 256, (224, 224, 3), dtype=np.uint8)
    assert prepare_image(image, 224) is image
    small = prepare_image(np.full((500, 300, 3), 7, np.uint8), 224)
    assert small.shape == (224, 224, 3) and small.dtype == np.uint8 and (small == 7).all()
    assert prepare_image(np.zeros((40, 50, 3), np.uint8), 224).shape == (224, 224, 3)
    with pytest.raises(ImageError, match="RGB picture"):
        prepare_image(np.zeros((40, 50), np.uint8), 224)
    with pytest.raises(ImageError, match="float32"):
        prepare_image(np.zeros((40, 50, 3), np.float32), 224)


def test_resident_models_are_bounded_least_recently_used_out(monkeypatch):
    import gc
    import weakref
    from collections import OrderedDict

    from explainers import models

    monkeypatch.setattr(models, "_cache", OrderedDict())  # the session's other models stay where they are
    monkeypatch.setenv(models.MAX_MODELS_ENV, "2")
    first = load_model("shapes", weights=None, seed=101)
    second = load_model("shapes", weights=None, seed=102)
    assert load_model("shapes", weights=None, seed=101) is first  # now the most recently used
    in_use = load_model("shapes", weights=None, seed=103)
    assert len(models.loaded_models()) == 2
    assert load_model("shapes", weights=None, seed=101) is first
    gone = weakref.ref(second)
    del second
    gc.collect()
    assert gone() is None, "the least recently used model is still held"
    load_model("shapes", weights=None, seed=104)  # evicts seed 103 while a caller still uses it
    assert in_use.keras is not None and in_use.check_layer(None) == in_use.default_layer
    assert len(models.loaded_models()) == 2


def test_resident_models_are_bounded_by_their_estimated_memory(monkeypatch):
    from collections import OrderedDict

    from explainers import models

    monkeypatch.setattr(models, "_cache", OrderedDict())  # the session's other models stay where they are
    monkeypatch.setattr(models, "_footprints", {})
    first = load_model("shapes", weights=None, seed=111)
    one = models.footprint_bytes(first)
    weights = sum(w.numpy().nbytes for w in first.keras.weights)
    assert one == weights * models.FOOTPRINT_PER_WEIGHT_BYTE > 0
    monkeypatch.setenv(models.MODELS_MB_ENV, str(2.5 * one / 2**20))  # room for two, not three
    load_model("shapes", weights=None, seed=112)
    assert len(models.loaded_models()) == 2
    load_model("shapes", weights=None, seed=113)
    assert len(models.loaded_models()) == 2 and load_model("shapes", weights=None, seed=111) is not first
    monkeypatch.setenv(models.MODELS_MB_ENV, "0")  # no room at all: the newest still stays
    load_model("shapes", weights=None, seed=114)
    assert len(models.loaded_models()) == 1
