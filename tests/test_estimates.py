"""Time estimates learn from what a map really cost: stable mode that stopped early counts its samples."""

from service.estimates import SpeedLog, work_done


def test_a_map_that_stopped_early_counts_the_samples_it_used():
    assert work_done((0, 64), {"stopped": "stable", "samples": 16}, 64) == (0, 16)
    assert work_done((500, 0), {"stopped": "budget", "samples": 500}, 500) == (500, 0)
    assert work_done((0, 64), {}, 64) == (0, 64)  # a fixed count: as its settings say
    log = SpeedLog()
    log.record("vgg16", "smoothgrad", work_done((0, 64), {"stopped": "stable", "samples": 16}, 64), 12.0)
    assert log.estimate("vgg16", "smoothgrad", (0, 64)).seconds == 48.0  # 12 s for 16: 64 would take 48 s


def test_a_sampling_method_stopped_at_half_its_samples_counts_half_the_work():
    assert work_done((0, 64), {"stopped": "budget", "budget": "seconds", "samples": 32}, 64) == (0, 32)
    assert work_done((400, 0), {"stopped": "stable", "samples": 200}, 400) == (200, 0)


def test_passes_a_method_counted_itself_are_taken_at_its_word():
    """Occlusion stopped after 2 of 3 scales: its 16 + 49 squares of 261, not 2/3 of them."""
    meta = {"stopped": "stable", "samples": 2, "scales": 2, "patches": 65, "passes_done": [65, 0]}
    assert work_done((261, 0), meta, 3) == (65, 0)
    assert work_done((261, 0), {"patches": 261, "scales": 3, "passes_done": [261, 0]}, 3) == (261, 0)
