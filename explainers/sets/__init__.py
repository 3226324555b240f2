"""Check a model on a whole set of pictures: read a folder or a zip safely (``reading``), match its
labels and object regions (``regions``), explain and score every picture in batches (``compute``), and
sum it up in a mean map and plain sentences (``summary``). ``run_set`` does all of it for the CLI;
the service runs the same steps as one job per batch of pictures."""

from __future__ import annotations

from explainers.sets.compute import (
    DEFAULT_BATCH,
    DEFAULT_METHOD,
    PictureResult,
    PictureScores,
    explain_batch,
    iter_set,
    score_chunk,
    score_picture,
)
from explainers.sets.reading import (
    PictureSet,
    Problem,
    SetError,
    SetLimits,
    SetPicture,
    read_files,
    read_folder,
    read_set,
    read_zip,
)
from explainers.sets.regions import Truth, match_truth
from explainers.sets.summary import SetSummary

__all__ = [
    "DEFAULT_BATCH",
    "DEFAULT_METHOD",
    "PictureResult",
    "PictureScores",
    "PictureSet",
    "Problem",
    "SetError",
    "SetLimits",
    "SetPicture",
    "SetSummary",
    "Truth",
    "explain_batch",
    "iter_set",
    "match_truth",
    "read_files",
    "read_folder",
    "read_set",
    "read_zip",
    "score_chunk",
    "score_picture",
]
