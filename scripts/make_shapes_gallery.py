"""Write the Shapes demo's example pictures into assets/examples/shapes/: one per class, with its mask.

``<class>.png`` is the picture (RGB, 128 × 128) and ``<class>.mask.png`` the object's true pixels (white
on black). The dashboard shows these when the Shapes model is picked, and scores maps against the masks.
Pictures come from ``explainers.shapes.render`` with the gallery seed (never used in training).
"""

from __future__ import annotations

import sys
from pathlib import Path

import numpy as np
from PIL import Image

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))


def main() -> None:
    from explainers import shapes

    out = ROOT / "assets" / "examples" / "shapes"
    out.mkdir(parents=True, exist_ok=True)
    found: dict[int, tuple[np.ndarray, np.ndarray]] = {}
    index = 0
    while len(found) < len(shapes.CLASSES):
        image, label, mask = shapes.render(shapes.GALLERY_SEED, index)
        found.setdefault(label, (image, mask))
        index += 1
    for label, (image, mask) in sorted(found.items()):
        name = shapes.CLASSES[label]
        Image.fromarray(image).save(out / f"{name}.png", optimize=True)
        Image.fromarray(mask.astype(np.uint8) * 255).save(out / f"{name}.mask.png", optimize=True)
    print(f"wrote {2 * len(found)} files to {out}")


if __name__ == "__main__":
    main()
