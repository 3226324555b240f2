"""Time estimates learn from what a map really cost: stable mode that stopped early counts its samples."""

from service.estimates import SpeedLog, work_done


def test_a_map_that_stopped_early_counts_the_samples_it_used():
    assert work_done((0, 64), {"stopped": "stable", "samples": 16}, 64) == (0, 16)
    assert work_done((500, 0), {"stopped": "budget", "samples": 500}, 500) == (500, 0)
    assert work_done((0, 64), {}, 64) == (0, 64)  # a fixed count: as its settings say
    log = SpeedLog()
    log.record("vgg16", "smoothgrad", work_done((0, 64), {"stopped": "stable", "samples": 16}, 64), 12.0)
    assert log.estimate("vgg16", "smoothgrad", (0, 64)).seconds == 48.0  # 12 s for 16: 64 would take 48 s
