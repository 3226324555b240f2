"""This project against the peer libraries tf-explain, Xplique and tf-keras-vis, alternated in one run.

    bash benchmarks/setup_peers.sh          # once: .venv-peers with the peers (the project's .venv stays clean)
    .venv-peers/bin/python benchmarks/compare.py [--models vgg16,resnet50,inception_v3] [--methods ...]
        [--repeat 3] [--min-seconds 4] [--slow-repeat 1] [--slow-models vgg16] [--quick] [--no-ig | --ig-only]
        [--out docs/benchmarks.md]

For each (model, method): every library's call is built once (a peer's explainer object, our model's
compiled passes), warmed up once, then the libraries take turns ``--repeat`` times (the order rotates
each round; short calls go on for more rounds until each library's timed calls add up to
``--min-seconds``, at most 25 rounds), so a shared machine's load changes affect all of them alike;
the table gives the median seconds, ours ÷ the fastest peer, and the memory each call needed (the
peak of TensorFlow's CPU tensor pool above what it held just before the call; median over the timed
calls).

All libraries get the same Keras model object (seeded random weights: timings do not depend on weight
values), the same cat picture, the same target class (281, tabby) and the same settings. Our ``explain``
is given the photo as decoded (uint8, any size) and resizes and preprocesses it inside the timed call;
the peers are given the already preprocessed batch (1, size, size, 3). Methods that explain a
probability are given the same model with a softmax appended (sharing its weights).

The slow methods (Score-CAM, RISE, LIME) run only on the ``--slow-models`` and ``--slow-repeat`` times.
The second table gives the integrated-gradients steps that our default quadrature (Gauss–Legendre)
and the left Riemann sum need to reach ≤ 1 % completeness error, from ``benchmarks/ig_completeness.py``; it involves no peer
and its errors do not depend on the load, so it can be run on its own (``--ig-only``, which keeps the
rest of ``--out``), and ``--no-ig`` keeps the table already in ``--out``. Prints the markdown and writes
it with the run's date, command, machine, load and versions to ``--out``.

The code, by what it holds: ``peers`` (how each library is called), ``rows`` (the methods and their
settings), ``measure`` (timing in turns, memory), ``render`` and ``update`` (the markdown of
docs/benchmarks.md), ``ig_steps`` (the integrated-gradients table), ``machine`` (what a run records),
``cli`` (the flags and the run). ``benchmarks/compare.py`` and ``python -m comparison`` run ``cli.main``.
"""

import os
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
# the project's packages, and the sibling benchmark scripts (ig_completeness) imported by name
sys.path.insert(0, str(ROOT))
sys.path.insert(1, str(ROOT / "benchmarks"))
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
