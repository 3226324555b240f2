"""``python -m explainers batch``: a set of 12 generated pictures end to end, to one HTML page and a CSV."""

from __future__ import annotations

import csv

from explainers.__main__ import main
from explainers.sets.demo import demo_zip


def test_batch_writes_the_page_and_every_score(tmp_path, capsys):
    source = tmp_path / "set.zip"
    source.write_bytes(demo_zip("shapes", 12))
    labels = tmp_path / "labels.csv"
    labels.write_text("file,label\npicture_00.png,0\nghost.png,circle\n", encoding="utf-8")
    out, table = tmp_path / "set.html", tmp_path / "set.csv"
    code = main(
        ["batch", str(source), "--model", "shapes", "--labels", str(labels), "--out", str(out), "--csv", str(table)]
    )
    assert code == 0
    captured = capsys.readouterr()
    assert "ghost.png" in captured.err and "labels.csv, row 2" in captured.err
    assert "labelled pictures" in captured.out
    page = out.read_text(encoding="utf-8")
    assert "Mean maps" in page and page.count("<tr><td><img") == 12 and "ghost.png" in page
    assert "http" not in page.split("</head>")[1].replace("https://", "")  # loads nothing
    with table.open(encoding="utf-8") as handle:
        rows = list(csv.DictReader(handle))
    assert len(rows) == 12 and rows[0]["name"] == "picture_00.png" and rows[0]["label"] == "circle"
    assert rows[1]["label"] == "" and float(rows[0]["energy_in_region"]) > 0


def test_batch_says_plainly_when_the_source_is_missing(tmp_path, capsys):
    assert main(["batch", str(tmp_path / "nothing.zip"), "--out", str(tmp_path / "x.html")]) == 1
    assert "no folder or .zip" in capsys.readouterr().err
    assert not (tmp_path / "x.html").exists()
