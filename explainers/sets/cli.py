"""``python -m explainers batch FOLDER_OR_ZIP``: explain and score a whole set, with a progress bar, and
write the set's HTML page and CSV file (explainers/__main__.py wires the subcommand here)."""

from __future__ import annotations

import argparse
from pathlib import Path

from explainers.sets.compute import DEFAULT_BATCH, DEFAULT_METHOD


def add_parser(commands) -> None:
    """The ``batch`` subcommand's arguments."""
    bt = commands.add_parser("batch", help="explain and score every picture of a folder or a .zip")
    bt.add_argument("source", help="a folder or a .zip of pictures (with labels.csv, boxes.csv, masks/ if any)")
    bt.add_argument("--model", default="shapes", help="a model name (default shapes)")
    bt.add_argument("--method", default=DEFAULT_METHOD, help=f"a method name (default {DEFAULT_METHOD})")
    bt.add_argument("--layer", default=None, help="layer name (default: the model's recommended layer)")
    bt.add_argument("--weights", default="imagenet", help="imagenet (default), none (random) or a file path")
    bt.add_argument("--labels", default=None, help="labels.csv: file, class (name or number); overrides the set's")
    bt.add_argument("--boxes", default=None, help="boxes.csv: file, x0, y0, x1, y1 in pixels; overrides the set's")
    bt.add_argument("--deletion", action="store_true", help="also the deletion area of every map (slower)")
    bt.add_argument(
        "--batch-size", type=int, default=DEFAULT_BATCH, help=f"pictures per pass (default {DEFAULT_BATCH})"
    )
    bt.add_argument("--out", default="set.html", help="where to write the HTML page (default set.html)")
    bt.add_argument("--csv", default=None, help="also write every score to this CSV file")


def _rows_of(path: str | None) -> list[list[str]] | None:
    import csv

    if path is None:
        return None
    with open(path, newline="", encoding="utf-8-sig") as handle:
        return [row for row in csv.reader(handle) if any(cell.strip() for cell in row)]


def run(args: argparse.Namespace) -> int:
    """Read, explain, score and write; bad entries are printed (one line each) and left out."""
    import sys

    from tqdm import tqdm

    from explainers.models import load_model
    from explainers.sets.compute import iter_set
    from explainers.sets.reading import SetLimits, read_set
    from explainers.sets.regions import match_truth
    from explainers.sets.report import csv_text, render_set_report, thumbnails
    from explainers.sets.summary import SetSummary

    picture_set = read_set(args.source, SetLimits.from_env())
    if args.labels:
        picture_set.labels_rows = _rows_of(args.labels)
    if args.boxes:
        picture_set.boxes_rows = _rows_of(args.boxes)
    model = load_model(args.model, weights=args.weights)
    truth = match_truth(picture_set, model.labels)
    problems = [*picture_set.problems, *truth.problems]
    for problem in problems:
        print(f"left out: {problem}", file=sys.stderr)
    if not picture_set.pictures:
        print("error: the set holds no picture that can be read", file=sys.stderr)
        return 1
    summary, thumbs = SetSummary(), []
    with tqdm(total=len(picture_set), unit="picture", desc="explaining") as bar:

        def progress(done: int, total: int) -> None:
            bar.update(done - bar.n)

        for result in iter_set(
            model, picture_set, truth, args.method, args.layer, args.batch_size, args.deletion, progress
        ):
            summary.add(result)
            thumbs.append(thumbnails(result.picture, result.heatmap))
    page = render_set_report(
        summary,
        thumbs,
        model_title=model.title,
        method=args.method,
        set_name=Path(args.source).name,
        problems=problems,
        random_weights=model.random_weights,
    )
    Path(args.out).write_text(page, encoding="utf-8")
    if args.csv:
        Path(args.csv).write_text(csv_text(summary.rows), encoding="utf-8")
    for sentence in summary.sentences():
        print(sentence)
    print(f"wrote {args.out}" + (f" and {args.csv}" if args.csv else ""))
    return 0
