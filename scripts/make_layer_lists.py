"""Regenerate explainers/data/layers.json: the pickable layers of each registry model.

The web process lists layers without loading TensorFlow or building a model, so the lists are shipped
as data; tests/test_architectures.py checks they match the built models. Run after a Keras upgrade.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))


def main() -> None:
    from explainers.models import MODELS, load_model

    layers = {}
    for name in MODELS:
        model = load_model(name, weights=None)
        layers[name] = [[info.name, info.height, info.width, info.channels] for info in model.layers]
    out = ROOT / "explainers" / "data" / "layers.json"
    out.write_text(
        "{\n" + ",\n".join(f"{json.dumps(name)}: {json.dumps(rows)}" for name, rows in layers.items()) + "\n}\n"
    )
    print(f"wrote {out}: " + ", ".join(f"{name} {len(rows)} layers" for name, rows in layers.items()))


if __name__ == "__main__":
    main()
