"""XRAI builds its map from whole regions, most important first."""

import numpy as np

from conftest import REGION
from explainers import explain


def test_xrai_ranks_the_region_first(region_model, region_picture):
    e = explain(region_model, region_picture, "xrai", target=0, steps=16)
    assert len(np.unique(e.heatmap)) < 30  # made of a few regions, not of scattered pixels
    assert (e.heatmap[REGION] == e.heatmap.max()).all()  # the region is in the first region chosen
    assert (e.heatmap < e.heatmap.max()).mean() > 0.5  # and that first region is not most of the picture
