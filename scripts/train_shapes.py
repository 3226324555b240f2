"""Train the Shapes demo model and write explainers/data/shapes.weights.h5 and shapes.json.

    .venv/bin/python scripts/train_shapes.py                      # the shipped weights came from this
    .venv/bin/python scripts/train_shapes.py --epochs 3 --train 6000 --out /tmp/shapes   # a quick try

Three sets of pictures come from ``explainers.shapes.generate`` with different seeds (for ``--seed S``:
training 10·S+1, validation 10·S+2, test 10·S+3; the tests and the example gallery use other seeds).
The training set is made once, in parallel, and kept in memory as uint8 (49 KB a picture). Training is
Adam with a cosine learning-rate decay, on the CPU, seeded. The held-out test set decides: below 95 %
accuracy nothing is written and the script exits with status 1.
"""

from __future__ import annotations

import argparse
import datetime
import hashlib
import json
import multiprocessing
import os
import sys
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from explainers import shapes  # noqa: E402  (no TensorFlow yet)

REQUIRED_ACCURACY = 0.95
VAL_SIZE = 1000
TEST_SIZE = 2000
BATCH = 32
LEARNING_RATE = 3e-3
WARMUP = 100  # steps of linear warm-up from 0
CHUNK = 500


def set_seeds(seed: int) -> dict[str, int]:
    return {"train": 10 * seed + 1, "val": 10 * seed + 2, "test": 10 * seed + 3}


def _chunk(job: tuple[int, int, int]) -> tuple[np.ndarray, np.ndarray]:
    count, seed, start = job
    made = shapes.generate(count, seed, start=start)
    return made.images, made.labels


def make_set(count: int, seed: int, processes: int) -> tuple[np.ndarray, np.ndarray]:
    """Pictures and labels of ``generate(count, seed)`` (masks are not needed), made in parallel."""
    jobs = [(min(CHUNK, count - start), seed, start) for start in range(0, count, CHUNK)]
    if processes > 1 and len(jobs) > 1:
        with multiprocessing.get_context("fork").Pool(processes) as pool:
            parts = pool.map(_chunk, jobs)
    else:
        parts = [_chunk(job) for job in jobs]
    return np.concatenate([p[0] for p in parts]), np.concatenate([p[1] for p in parts])


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--epochs", type=int, default=4, help="passes over the training set (default 4)")
    parser.add_argument("--train", type=int, default=16000, help="training pictures (default 16000)")
    parser.add_argument("--seed", type=int, default=0, help="seed of the sets, weights and order (default 0)")
    parser.add_argument(
        "--out",
        type=Path,
        default=shapes.DATA_DIR,
        help="folder for shapes.weights.h5 and shapes.json (default explainers/data)",
    )
    parser.add_argument(
        "--processes",
        type=int,
        default=os.cpu_count() or 1,
        help="processes that draw the pictures (default: one per CPU)",
    )
    args = parser.parse_args(argv)
    if args.epochs < 1 or args.train < BATCH:
        parser.error(f"--epochs must be at least 1 and --train at least {BATCH}")

    seeds = set_seeds(args.seed)
    started = time.perf_counter()
    x_train, y_train = make_set(args.train, seeds["train"], args.processes)
    x_val, y_val = make_set(VAL_SIZE, seeds["val"], args.processes)
    x_test, y_test = make_set(TEST_SIZE, seeds["test"], args.processes)
    drawing = time.perf_counter() - started
    print(
        f"drew {args.train} + {VAL_SIZE} + {TEST_SIZE} pictures in {drawing:.0f} s "
        f"(seeds {seeds['train']}, {seeds['val']}, {seeds['test']})",
        flush=True,
    )

    from explainers._tf import keras, tf

    keras.utils.set_random_seed(args.seed)

    class Batches(keras.utils.PyDataset):
        """uint8 pictures in memory -> preprocessed batches, in a new seeded order every epoch."""

        def __init__(self, images, labels, shuffle_seed=None):
            super().__init__()
            self.images, self.labels = images, labels
            self.rng = None if shuffle_seed is None else np.random.default_rng(shuffle_seed)
            self.order = np.arange(len(labels))
            self.on_epoch_end()

        def __len__(self):
            return -(-len(self.labels) // BATCH)

        def __getitem__(self, index):
            rows = np.sort(self.order[index * BATCH : (index + 1) * BATCH])
            return shapes.preprocess(self.images[rows]), self.labels[rows]

        def on_epoch_end(self):
            if self.rng is not None:
                self.rng.shuffle(self.order)

    model = shapes.build_model(seed=args.seed)
    train = Batches(x_train, y_train, shuffle_seed=args.seed)
    steps = len(train) * args.epochs
    warmup = min(WARMUP, steps // 5)
    if warmup:
        schedule = keras.optimizers.schedules.CosineDecay(
            0.0, decay_steps=steps - warmup, alpha=0.01, warmup_target=LEARNING_RATE, warmup_steps=warmup
        )
    else:  # a run too short to warm up
        schedule = keras.optimizers.schedules.CosineDecay(LEARNING_RATE, decay_steps=steps, alpha=0.01)
    model.compile(
        optimizer=keras.optimizers.Adam(schedule),
        loss=keras.losses.SparseCategoricalCrossentropy(from_logits=True),
        metrics=["accuracy"],
    )
    fit_started = time.perf_counter()
    history = model.fit(train, validation_data=Batches(x_val, y_val), epochs=args.epochs, verbose=2)
    training = time.perf_counter() - fit_started

    logits = model.predict(Batches(x_test, y_test), verbose=0)
    predicted = logits.argmax(axis=1)
    accuracy = float((predicted == y_test).mean())
    per_class = {}
    print(f"\n{'class':<10} {'test pictures':>13} {'accuracy':>9}   most often mistaken for")
    for k, name in enumerate(shapes.CLASSES):
        mine = y_test == k
        per_class[name] = round(float((predicted[mine] == k).mean()), 4)
        wrong = np.bincount(predicted[mine & (predicted != k)], minlength=len(shapes.CLASSES))
        mistaken = f"{shapes.CLASSES[int(wrong.argmax())]} ({int(wrong.max())})" if wrong.any() else "-"
        print(f"{name:<10} {int(mine.sum()):>13} {per_class[name]:>9.2%}   {mistaken}")
    print(f"{'all':<10} {len(y_test):>13} {accuracy:>9.2%}")
    print(
        f"training: {training:.0f} s for {args.epochs} epochs of {args.train} pictures "
        f"(drawing the pictures: {drawing:.0f} s)"
    )

    if accuracy < REQUIRED_ACCURACY:
        print(
            f"Test accuracy {accuracy:.2%} is below the required {REQUIRED_ACCURACY:.0%}: nothing was saved. "
            f"Train longer (--epochs) or on more pictures (--train).",
            file=sys.stderr,
        )
        return 1

    args.out.mkdir(parents=True, exist_ok=True)
    weights_path = args.out / shapes.WEIGHTS_PATH.name
    model.save_weights(str(weights_path))
    info = {
        "model": "shapes",
        "classes": list(shapes.CLASSES),
        "image_size": shapes.IMAGE_SIZE,
        "default_layer": shapes.DEFAULT_LAYER,
        "layers": [f"{layer.name} " + "×".join(str(d) for d in layer.output.shape[1:]) for layer in model.layers[1:]],
        "parameters": int(model.count_params()),
        "weights_bytes": weights_path.stat().st_size,
        "weights_sha256": hashlib.sha256(weights_path.read_bytes()).hexdigest(),
        "seed": args.seed,
        "sets": {
            name: {"seed": seeds[name], "size": size}
            for name, size in (("train", args.train), ("val", VAL_SIZE), ("test", TEST_SIZE))
        },
        "epochs": args.epochs,
        "batch_size": BATCH,
        "optimizer": f"Adam, {warmup} warm-up steps to {LEARNING_RATE:g}, "
        f"then cosine decay to {LEARNING_RATE * 0.01:g}",
        "val_accuracy": [round(float(v), 4) for v in history.history["val_accuracy"]],
        "test_accuracy": round(accuracy, 4),
        "per_class_test_accuracy": per_class,
        "training_seconds": round(training, 1),
        "drawing_seconds": round(drawing, 1),
        "command": " ".join(
            [
                "python scripts/train_shapes.py",
                f"--epochs {args.epochs}",
                f"--train {args.train}",
                f"--seed {args.seed}",
            ]
        ),  # --out and --processes do not change the weights
        "keras": keras.__version__,
        "tensorflow": tf.__version__,
        "numpy": np.__version__,
        "date": datetime.datetime.now(datetime.UTC).strftime("%Y-%m-%d %H:%M UTC"),
    }
    info_path = args.out / shapes.INFO_PATH.name
    info_path.write_text(json.dumps(info, indent=1, ensure_ascii=False) + "\n", encoding="utf-8")
    print(f"wrote {weights_path} ({info['weights_bytes'] / 1e6:.2f} MB) and {info_path}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
