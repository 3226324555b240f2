"""Which class each model explains when two are compared (service.classes): a class belongs to a model, so
the Shapes demo's "star" (class 3) must never become VGG16's class 3 ("tiger shark")."""

from __future__ import annotations

import numpy as np

from explainers.labels import Label, Labels
from service.classes import counterpart_class, matching_class, standing


def test_models_with_the_same_label_set_explain_the_same_class():
    choice = counterpart_class("vgg16", 281, "resnet50")
    assert choice.target == 281 and choice.same and "same class as VGG16" in choice.reason


def test_a_class_the_other_model_does_not_know_becomes_its_top_class_saying_why():
    choice = counterpart_class("shapes", 3, "vgg16")  # Shapes class 3 is "star"; VGG16's class 3 is a shark
    assert choice.target is None and not choice.same
    assert choice.reason == "VGG16 does not know “star”; showing its top class"
    assert choice.describe("tiger shark") == "VGG16 does not know “star”; showing its top class: tiger shark"
    assert counterpart_class("vgg16", "tabby", "shapes").target is None  # by name too


def test_a_class_of_the_same_name_is_found_at_its_own_number():
    source = Labels.from_names(["circle", "Banana"])
    other = Labels([Label(0, "apple", ("apple",)), Label(1, "lemon", ("lemon",)), Label(2, "banana", ("banana",))])
    assert matching_class(source, 1, other) == 2  # a name matches whatever its number
    assert matching_class(source, 0, other) is None
    synonyms = Labels([Label(0, "tabby cat", ("tabby", "tabby cat")), Label(1, "circle shape", ("circle",))])
    assert matching_class(source, 0, synonyms) == 1  # or a synonym of the other model's class


def test_no_class_picked_or_a_forged_one_means_each_model_explains_its_top_class():
    assert counterpart_class("vgg16", None, "shapes").target is None
    assert counterpart_class("vgg16", 5000, "resnet50").target is None


def test_standing_is_the_probability_and_rank_from_one_ranked_as_the_top_five_are():
    probabilities = np.array([0.1, 0.5, 0.1, 0.3])
    assert standing(probabilities, 1) == (0.5, 1)
    assert standing(probabilities, 3) == (0.3, 2)
    assert standing(probabilities, 0) == (0.1, 3) and standing(probabilities, 2) == (0.1, 4)  # ties: class order
    assert standing(None, 1) is None and standing(probabilities, 9) is None


def test_each_card_slot_gets_its_own_models_class():
    from components.page_state import Page

    page = Page(model="shapes", compare="vgg16", target=3)
    assert page.class_for("a").target == 3 and "Class to explain" in page.class_for("a").reason
    assert page.class_for("b").target is None  # VGG16's own top class, never its class 3
    assert Page(model="vgg16", compare="resnet50", target=281).class_for("b").target == 281
    clicked = Page(model="shapes", compare="vgg16", target=3, compare_target=954).class_for("b")
    assert clicked.target == 954 and clicked.reason == "picked on VGG16's chart"
    assert Page(model="shapes", compare="alexnet", target=3).class_for("b").target is None  # forged: top class
    assert Page(model="vgg16", weights="imagenet", compare_weights="random").weights_for("b") == "random"
