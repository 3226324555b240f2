"""What a whole set says: the mean map (and one per class), counts, and a few sentences in plain words.

``SetSummary`` keeps running sums only (one map per class at the model's input size), so a set of any
length costs the same memory. Every map is scaled to sum 1 before it is added, so each picture weighs
the same in the mean, whatever its map's scale.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from explainers.sets.compute import PictureResult, PictureScores
from explainers.sets.scores import border_band, peak_place

LOW_ENERGY = 0.20  # "less than 20 % of the map falls on the object"
HIGH_BORDER = 0.50  # "more than half of the map lies on the border band"


@dataclass
class SetSummary:
    """Running sums of a set's maps and its rows' scores (only numbers, no pictures)."""

    rows: list[PictureScores] = field(default_factory=list)
    _sum: np.ndarray | None = None
    _class_sums: dict[str, np.ndarray] = field(default_factory=dict)
    _class_counts: dict[str, int] = field(default_factory=dict)

    def add(self, result: PictureResult) -> None:
        self.add_map(result.scores, result.heatmap)

    def add_map(self, scores: PictureScores, heatmap: np.ndarray) -> None:
        """Count one picture's scores and map (``heatmap`` at the model's input size)."""
        mass = np.maximum(np.asarray(heatmap, np.float64), 0.0)
        total = mass.sum()
        unit = mass / total if total > 0 else mass
        self._sum = unit.copy() if self._sum is None else self._sum + unit
        group = scores.label or scores.prediction
        self._class_sums[group] = self._class_sums.get(group, 0.0) + unit
        self._class_counts[group] = self._class_counts.get(group, 0) + 1
        self.rows.append(scores)

    @property
    def mean_map(self) -> np.ndarray | None:
        """The mean of the pictures' maps (each scaled to sum 1), or None for an empty set."""
        return None if self._sum is None else (self._sum / len(self.rows)).astype(np.float32)

    def class_maps(self) -> dict[str, tuple[int, np.ndarray]]:
        """Per class (the true label if given, else the prediction): (pictures, mean map), by name."""
        return {
            name: (self._class_counts[name], (total / self._class_counts[name]).astype(np.float32))
            for name, total in sorted(self._class_sums.items())
        }

    def sentences(self) -> list[str]:
        """A few sentences a person who has never coded can act on."""
        rows = self.rows
        if not rows:
            return ["No picture of the set could be explained."]
        out = []
        labelled = [row for row in rows if row.correct is not None]
        if labelled:
            right = sum(row.correct for row in labelled)
            out.append(f"The model is right on {right} of {len(labelled)} labelled pictures.")
        regions = [row for row in rows if row.energy_in_region is not None]
        if regions:
            low = sum(row.energy_in_region < LOW_ENERGY for row in regions)
            out.append(
                f"In {low} of {len(regions)} pictures with a marked object, less than {LOW_ENERGY * 100:.0f} % "
                f"of the map falls on the object."
            )
            hits = sum(bool(row.pointing_game) for row in regions)
            out.append(f"The map's brightest point lies on the object in {hits} of {len(regions)} pictures.")
            mean_energy = float(np.mean([row.energy_in_region for row in regions]))
            out.append(f"On average {mean_energy * 100:.0f} % of a map falls on the object.")
        border = sum(row.border_share > HIGH_BORDER for row in rows)
        out.append(
            f"In {border} of {len(rows)} pictures, more than half of the map lies on the border band "
            f"(the outer 10 % of the picture), where objects seldom are."
        )
        mean = self.mean_map
        if mean is not None and mean.sum() > 0:
            place = peak_place(mean)
            on_border = float(mean[border_band(mean.shape)].sum() / mean.sum())
            sentence = f"The mean map is brightest at the {place}"
            if place != "centre" and on_border > HIGH_BORDER:
                sentence += (
                    f", with {on_border * 100:.0f} % of it on the border band: the model may read something that "
                    f"sits at the same place in every picture (a mark, a watermark, a frame) instead of the object."
                )
            else:
                sentence += "."
            out.append(sentence)
        return out
