"""The admin's model folder is read again when it changes (its modification time, one look per listing):
a ``.keras`` file and its sidecar dropped in are on the next page load and in ``/api/v1/models``, a
removed one is gone, without a restart."""

from __future__ import annotations

from test_own_models_app import folder, keras_file, web  # noqa: F401 - the fixtures of a folder model


def _names(web) -> set[str]:  # noqa: F811
    return {model["name"] for model in web.server.test_client().get("/api/v1/models").get_json()["models"]}


def test_a_model_dropped_into_the_folder_is_listed_without_a_restart(web, folder, keras_file):  # noqa: F811
    from components import model_picker

    assert "pets" in _names(web) and "birds" not in _names(web)
    (folder / "birds.keras").write_bytes(keras_file.read_bytes())
    (folder / "birds.toml").write_text('title = "Birds"\nlabels = ["owl", "tit", "wren"]\n', encoding="utf-8")
    assert "birds" in _names(web)
    with web.server.test_request_context("/"):  # the page's list of models, as a page load builds it
        options = model_picker.show_status("pets", "imagenet")[1]
    assert {"label": "Birds · model folder", "value": "birds"} in options
    (folder / "birds.keras").unlink()
    assert "birds" not in _names(web)


def test_an_unchanged_folder_is_not_read_again(web, monkeypatch):  # noqa: F811
    from service import catalogue

    _names(web)
    monkeypatch.setattr(catalogue, "scan_folder", lambda *args: (_ for _ in ()).throw(AssertionError("read again")))
    assert "pets" in _names(web)
