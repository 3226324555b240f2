"""A brought model (folder, upload, notebook) has its own weights: the page hides the trained / random
weights choice while one is picked, for the first model and for the second one alike."""

from __future__ import annotations

import pytest

from test_own_models_app import folder, keras_file, web  # noqa: F401 - the fixtures of a folder model


def test_the_weights_choice_is_hidden_for_a_folder_model(web):  # noqa: F811
    from components import own_model

    with web.server.test_request_context("/"):
        assert own_model.hide_weights_choice("pets", None) == [{"display": "none"}, {}]
        assert own_model.hide_weights_choice("shapes", "pets") == [{}, {"display": "none"}]
        assert own_model.hide_weights_choice("vgg16", "shapes") == [{}, {}]


@pytest.mark.browser
@pytest.mark.slow
def test_the_page_hides_the_weights_radio_for_a_folder_model(dash_duo, browser_available, web):  # noqa: F811
    from selenium.webdriver.common.by import By

    from tests.test_browser import _DRIVER, _wait
    from tests.test_browser_compare import _choose

    dash_duo.start_server(web)
    _DRIVER["driver"] = dash_duo.driver
    dash_duo.wait_for_text_to_equal("h1", "Saliency maps", timeout=30)
    radio = dash_duo.find_element("#weights")
    _wait(lambda: radio.is_displayed(), message="the weights choice of a built-in model")
    _choose(dash_duo, "model", "Pets")
    _wait(lambda: "Pets" in dash_duo.find_element("#model").text, message="the folder model picked")
    _wait(lambda: not dash_duo.find_element("#weights").is_displayed(), message="the weights choice hidden")
    assert dash_duo.driver.find_elements(By.CSS_SELECTOR, "#weights input")  # still in the page, for its state
