"""Integrated gradients on a photo the model has seen (its logits in the model's memo, as after the
upload's pass) against a photo it has not, alternated in one process.

    .venv/bin/python benchmarks/seen_photo.py --model vgg16 --steps 16

IG's completeness error needs f(x), the photo's logit. On a photo seen before, the upload's pass
left its logits in the model's ``LogitsMemo`` and IG recalls them; on a new photo it runs a forward
pass for them. "seen" explains the cat photo each time (the untimed first calls leave its logits);
"unseen" explains a copy whose top-left corner changes on every call, so its logits are never known. Both
recall the black baseline's logits. Seeded random weights (timings do not depend on weight values),
class 281, through the public ``explain``; the one-picture passes are first tuned as the server does
at start. Prints every call's seconds, the medians and their ratio.
"""

from __future__ import annotations

import argparse
import itertools

from ab import alternate, cat_photo, print_table, tuned_model


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model", default="vgg16")
    parser.add_argument("--steps", type=int, default=16)
    parser.add_argument("--repeat", type=int, default=5)
    args = parser.parse_args()

    from explainers import explain

    model = tuned_model(args.model)
    photo = cat_photo()
    counter = itertools.count(1)

    def call(way: str):
        picture = photo
        if way == "unseen":
            picture = photo.copy()
            picture[:8, :8, 0] = (photo[:8, :8, 0].astype(int) + next(counter)) % 256
        return explain(model, picture, "integrated_gradients", target=281, steps=args.steps, baseline="black")

    times = alternate(call, ("seen", "unseen"), args.repeat)
    medians = print_table(
        f"Integrated gradients, {args.steps} steps, on {args.model}, median of {args.repeat} alternated calls",
        "photo",
        times,
        {},
    )
    print(f"\nseen ÷ unseen: {medians['seen'] / medians['unseen']:.2f}")


if __name__ == "__main__":
    main()
