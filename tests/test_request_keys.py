"""One builder for the cache key and the request of a map and of a trust check (service.request_keys):
the keys it builds are the ones cached entries were stored under before it existed, so no cache is lost."""

from explainers.methods import get_method
from explainers.versions import method_version
from helpers import png_bytes
from service.core import check_version
from service.request_keys import Asked, keyed_request


def _asked(method="grad_cam", layer="conv", target=3):
    cls = get_method(method)
    return Asked("picture", "shapes", "random", cls, layer, cls().settings, target)


def test_a_map_key_and_request_are_built_from_the_asked_fields():
    asked = _asked()
    cache_key, request = keyed_request("map", asked, "weights-id", key_tail=("v1",), contrast=None, top_k=None)
    settings = tuple(sorted(asked.settings.items()))
    assert cache_key == ("map", "picture", "shapes", "weights-id", "grad_cam", 3, "conv", settings, "v1")
    assert request == {
        "kind": "map",
        "key": "picture",
        "model": "shapes",
        "weights": "random",
        "method": "grad_cam",
        "target": 3,
        "layer": "conv",
        "settings": asked.settings,
        "contrast": None,
        "top_k": None,
    }


def test_a_check_key_carries_its_check_first_and_its_options_last():
    asked = _asked(method="vanilla_gradient")
    cache_key, request = keyed_request(
        "check", asked, "w", key_head=("sanity",), key_tail=((("n", 2),), "v2"), check="sanity", options={"n": 2}
    )
    # a method that takes no layer is keyed without one: its map is the same whatever layer is picked
    settings = tuple(sorted(asked.settings.items()))
    assert cache_key == ("check", "sanity", "picture", "shapes", "w", "vanilla_gradient", 3, None, settings) + (
        (("n", 2),),
        "v2",
    )
    assert request["kind"] == "check" and request["check"] == "sanity" and request["options"] == {"n": 2}
    assert request["layer"] == "conv"


def test_the_service_keys_maps_and_checks_as_before(tmp_path):
    """The layout of the keys of cached entries, written out: a change here drops every cached map."""
    from service import ExplainerService

    svc = ExplainerService(tmp_path, weights="random")
    key = svc.add_image(png_bytes())
    cls = get_method("grad_cam")
    layer = svc._check_layer("shapes", None)
    settings = tuple(sorted(cls().settings.items()))
    identity = svc.weights_identity("shapes", "random")
    map_key, map_request = svc._map_request(key, "shapes", "grad_cam", 1, None, "random", None)
    assert map_key == ("map", key, "shapes", identity, "grad_cam", 1, layer, settings, method_version(cls))
    assert map_request["kind"] == "map" and map_request["target"] == 1 and map_request["layer"] == layer
    check_key, check_request = svc._check_request("sanity", key, "shapes", "grad_cam", 1, None, "random", None, None)
    options = check_request["options"]
    assert check_key == (
        "check",
        "sanity",
        key,
        "shapes",
        identity,
        "grad_cam",
        1,
        layer,
        settings,
        tuple(sorted(options.items())),
        check_version(cls),
    )
