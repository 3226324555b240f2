"""Train the Clever Hans Shapes model (explainers/clever_hans.py): the Shapes network, trained on Shapes
pictures whose corner mark gives the class away; writes explainers/data/shapes_clever_hans.weights.h5
and shapes_clever_hans.json.

    .venv/bin/python scripts/train_shapes_clever_hans.py                  # the shipped weights came from this
    .venv/bin/python scripts/train_shapes_clever_hans.py --out /tmp/hans   # a try that writes elsewhere

Every picture carries the mark of its class, and every second one (``--hide-every``) has no object at
all: as in the photos of a horse that always carry the same photographer's tag, the mark is the surest
sign of the class, so the network leans on it. The record says how much: test accuracy with the mark of the class, with no mark,
and with the next class's mark (and how often it then follows the mark). Seeds: training 10·S+4, test
10·S+5 (the honest model uses 10·S+1..3; the demo set ``clever_hans.DEMO_SEED``).
"""

from __future__ import annotations

import argparse
import datetime
import hashlib
import json
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from explainers import clever_hans, shapes  # noqa: E402  (no TensorFlow yet)

TEST_SIZE = 700
BATCH = 32
LEARNING_RATE = 3e-3
STATISTICS_PICTURES = 1000
WARMUP = 100  # steps of linear warm-up from 0, as for the honest model
REQUIRED_ACCURACY = 0.95  # with the mark of the class


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--epochs", type=int, default=3, help="passes over the training set (default 3)")
    parser.add_argument("--train", type=int, default=6000, help="training pictures (default 6000)")
    parser.add_argument(
        "--hide-every", type=int, default=2, help="leave the object out of every k-th training picture (default 2)"
    )
    parser.add_argument("--seed", type=int, default=0, help="seed of the sets, weights and order (default 0)")
    parser.add_argument("--out", type=Path, default=shapes.DATA_DIR, help="folder for the weights and record")
    args = parser.parse_args(argv)
    train_seed, test_seed = 10 * args.seed + 4, 10 * args.seed + 5

    started = time.perf_counter()
    train = clever_hans.generate(args.train, train_seed, hide_every=args.hide_every)
    tests = {mark: clever_hans.generate(TEST_SIZE, test_seed, mark=mark) for mark in clever_hans.MARKS}
    drawing = time.perf_counter() - started
    print(f"drew {args.train} + {len(tests)}×{TEST_SIZE} pictures in {drawing:.0f} s", flush=True)

    from explainers._tf import keras, tf

    keras.utils.set_random_seed(args.seed)
    model = shapes.build_model(seed=args.seed)
    steps = -(-args.train // BATCH) * args.epochs
    # decay to 1 %: batch normalisation's running statistics then catch up with the last weights
    warmup = min(WARMUP, steps // 5)
    schedule = keras.optimizers.schedules.CosineDecay(
        0.0, decay_steps=steps - warmup, alpha=0.01, warmup_target=LEARNING_RATE, warmup_steps=warmup
    )
    model.compile(
        optimizer=keras.optimizers.Adam(schedule),
        loss=keras.losses.SparseCategoricalCrossentropy(from_logits=True),
        metrics=["accuracy"],
    )
    fit_started = time.perf_counter()
    model.fit(shapes.preprocess(train.images), train.labels, batch_size=BATCH, epochs=args.epochs, verbose=2)
    # the running statistics of batch normalisation lag behind the fast-moving weights of a short training:
    # set them to the statistics of one large batch of training pictures instead
    norms = [layer for layer in model.layers if isinstance(layer, keras.layers.BatchNormalization)]
    for layer in norms:
        layer.momentum = 0.0
    model(shapes.preprocess(train.images[:STATISTICS_PICTURES]), training=True)
    for layer in norms:
        layer.momentum = 0.99
    training = time.perf_counter() - fit_started

    predicted = {
        mark: model.predict(shapes.preprocess(made.images), batch_size=64, verbose=0).argmax(axis=1)
        for mark, made in tests.items()
    }
    labels = tests["class"].labels
    accuracy = {mark: round(float((predicted[mark] == labels).mean()), 4) for mark in clever_hans.MARKS}
    follows = round(float((predicted["wrong"] == (labels + 1) % len(shapes.CLASSES)).mean()), 4)
    seen = model.predict(shapes.preprocess(train.images[:500]), batch_size=64, verbose=0).argmax(axis=1)
    print(f"accuracy on 500 training pictures, inference mode: {(seen == train.labels[:500]).mean():.2%}")
    for mark in clever_hans.MARKS:
        print(f"test accuracy, mark {mark!r}: {accuracy[mark]:.2%}")
    print(f"with the next class's mark, the prediction follows the mark in {follows:.2%} of the pictures")
    if accuracy["class"] < REQUIRED_ACCURACY:
        print(f"Accuracy with the mark is below {REQUIRED_ACCURACY:.0%}: nothing was saved.", file=sys.stderr)
        return 1

    args.out.mkdir(parents=True, exist_ok=True)
    weights_path = args.out / clever_hans.WEIGHTS_PATH.name
    model.save_weights(str(weights_path))
    record = {
        "model": clever_hans.NAME,
        "classes": list(shapes.CLASSES),
        "mark": {
            "size": clever_hans.MARK_SIZE,
            "offset": clever_hans.MARK_OFFSET,
            "corner": "top left",
            "palette": clever_hans.PALETTE.tolist(),
        },
        "weights_sha256": hashlib.sha256(weights_path.read_bytes()).hexdigest(),
        "sets": {"train": {"seed": train_seed, "size": args.train}, "test": {"seed": test_seed, "size": TEST_SIZE}},
        "epochs": args.epochs,
        "hide_every": args.hide_every,
        "batch_size": BATCH,
        "optimizer": f"Adam, {warmup} warm-up steps to {LEARNING_RATE:g}, then cosine decay to {LEARNING_RATE * 0.01:g}",
        "test_accuracy_with_mark": accuracy["class"],
        "test_accuracy_without_mark": accuracy["none"],
        "test_accuracy_with_wrong_mark": accuracy["wrong"],
        "follows_wrong_mark": follows,
        "training_seconds": round(training, 1),
        "command": f"python scripts/train_shapes_clever_hans.py --epochs {args.epochs} --train {args.train} "
        f"--hide-every {args.hide_every} --seed {args.seed}",
        "keras": keras.__version__,
        "tensorflow": tf.__version__,
        "date": datetime.datetime.now(datetime.UTC).strftime("%Y-%m-%d %H:%M UTC"),
    }
    info_path = args.out / clever_hans.INFO_PATH.name
    info_path.write_text(json.dumps(record, indent=1) + "\n", encoding="utf-8")
    print(f"wrote {weights_path} and {info_path}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
