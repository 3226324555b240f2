import pytest

from explainers import UnknownNameError
from explainers.labels import IMAGENET_LABELS, Labels, search_labels


def test_known_indices():
    assert len(IMAGENET_LABELS) == 1000
    assert IMAGENET_LABELS[0].name == "tench"
    assert IMAGENET_LABELS[281].name == "tabby cat" and "tabby" in IMAGENET_LABELS[281].synonyms
    assert IMAGENET_LABELS[954].name == "banana"
    assert IMAGENET_LABELS[281].wnid == "n02123045"


def test_search_by_synonym_substring_and_index():
    assert search_labels("tabby")[0].index == 281
    cats = [label.index for label in search_labels("cat")]
    assert {281, 282, 283, 285} <= set(cats)  # tabby, tiger cat, Persian cat, Egyptian cat
    assert search_labels("CAT") == search_labels("cat")
    assert search_labels("281")[0].index == 281
    assert search_labels("banana")[0].index == 954
    assert search_labels("no such thing at all") == []
    assert len(search_labels("", limit=10)) == 10


def test_exact_matches_rank_first():
    # "cat" matches dozens of classes; a class called exactly that (none in ImageNet) or starting with it first
    found = [label.name for label in search_labels("tiger")]
    assert found[0] == "tiger"


def test_resolve():
    assert IMAGENET_LABELS.resolve("281") == 281
    assert IMAGENET_LABELS.resolve(281) == 281
    assert IMAGENET_LABELS.resolve("Tabby") == 281
    with pytest.raises(UnknownNameError, match="numbered 0 to 999"):
        IMAGENET_LABELS.resolve(1000)
    with pytest.raises(UnknownNameError, match="Closest"):
        IMAGENET_LABELS.resolve("tabb")
    with pytest.raises(UnknownNameError, match="more than one class"):
        IMAGENET_LABELS.resolve("crane")


def test_display_and_custom_labels():
    assert IMAGENET_LABELS[281].display == "281 · tabby cat (tabby)"
    custom = Labels.from_names(["a", "b"])
    assert [label.name for label in custom] == ["a", "b"] and custom.resolve("b") == 1
