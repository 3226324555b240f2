"""The command line, run in-process (models stay cached) and once as a real subprocess."""

import json
import subprocess
import sys

import numpy as np
import pytest
from PIL import Image

from explainers import weights as weights_mod
from explainers.__main__ import main


@pytest.fixture
def photo(tmp_path):
    path = tmp_path / "photo.png"
    Image.fromarray(np.random.default_rng(0).integers(0, 256, (90, 120, 3), dtype=np.uint8)).save(path)
    return path


def test_labels(capsys):
    assert main(["labels", "tabby"]) == 0
    assert capsys.readouterr().out.splitlines()[0] == "281 · tabby cat (tabby)"
    assert main(["labels", "zzzz-not-a-class"]) == 1
    assert main(["labels", "st", "--model", "shapes"]) == 0
    assert capsys.readouterr().out.splitlines() == ["3 · star"]


def test_evaluate_writes_every_score(tmp_path, capsys):
    out = tmp_path / "scores.json"
    code = main(
        [
            "evaluate",
            "--model",
            "shapes",
            "--weights",
            "none",
            "--method",
            "grad_cam",
            "--n",
            "3",
            "--steps",
            "4",
            "--json",
            str(out),
        ]
    )
    assert code == 0
    printed = capsys.readouterr().out
    assert "3 generated pictures" in printed and "pointing game" in printed and "deletion AUC" in printed
    found = json.loads(out.read_text())
    assert found["n"] == 3 and len(found["pictures"]) == 3
    summary = found["summary"]
    assert set(summary) >= {
        "accuracy",
        "pointing_game",
        "energy_in_mask",
        "deletion_auc",
        "insertion_auc",
        "deletion_auc_random",
        "insertion_auc_random",
    }
    assert summary["pointing_game"] == np.mean([p["pointing_game"] for p in found["pictures"]])
    assert main(["evaluate", "--model", "vgg16", "--weights", "none", "--n", "1"]) == 1
    assert "only the shapes model" in capsys.readouterr().err


def test_sanity_prints_a_row_per_randomized_layer(tmp_path, capsys):
    out = tmp_path / "sanity.json"
    assert main(["sanity", "--model", "shapes", "--weights", "none", "--n", "1", "--json", str(out)]) == 0
    found = json.loads(out.read_text())
    from explainers.evaluation import weighted_layers
    from explainers.models import load_model

    order = weighted_layers(load_model("shapes", weights=None).keras)
    assert [row["layer"] for row in found["randomized_top_down"]] == order and order[0] == "logits"
    assert -1 <= found["random_logit"]["rank_correlation"] <= 1
    assert "logits" in capsys.readouterr().out


@pytest.mark.slow
def test_explain_writes_an_overlay_at_the_photo_size(photo, tmp_path, capsys):
    out, npy = tmp_path / "overlay.png", tmp_path / "map.npy"
    code = main(
        [
            "explain",
            str(photo),
            "--model",
            "vgg16",
            "--method",
            "grad_cam",
            "--target",
            "tabby",
            "--weights",
            "none",
            "--out",
            str(out),
            "--npy",
            str(npy),
        ]
    )
    assert code == 0
    printed = capsys.readouterr().out
    assert "class 281 (tabby cat)" in printed and "random weights" in printed
    assert Image.open(out).size == (120, 90)
    assert np.load(npy).shape == (224, 224)


@pytest.mark.slow
def test_cli_errors_are_one_plain_line(photo, tmp_path, capsys):
    bad = tmp_path / "bad.jpg"
    bad.write_bytes(b"not a picture at all")
    cases = [
        (["explain", str(bad), "--weights", "none"], "not a supported picture"),
        (["explain", str(photo), "--weights", "none", "--method", "cam"], "CAM does not apply to VGG16"),
        (["explain", str(photo), "--weights", "none", "--method", "nope"], "Unknown method 'nope'"),
        (["explain", str(photo), "--weights", "none", "--layer", "fc1"], "no layer called 'fc1'"),
        (["explain", str(tmp_path / "missing.png")], "There is no file at"),
    ]
    for argv, phrase in cases:
        assert main(argv) == 1, argv
        err = capsys.readouterr().err
        assert err.count("\n") == 1 and err.startswith("error: ") and phrase in err, err
        assert "Traceback" not in err


def test_fetch_weights_offline_says_what_to_do(monkeypatch, tmp_path, capsys):
    monkeypatch.setenv("KERAS_HOME", str(tmp_path))
    monkeypatch.setenv(weights_mod.OFFLINE_ENV, "1")
    assert main(["fetch-weights", "--model", "resnet50"]) == 1
    assert "fetch-weights --model resnet50" in capsys.readouterr().err


def test_models_command(monkeypatch, tmp_path, capsys):
    monkeypatch.setenv("KERAS_HOME", str(tmp_path))
    monkeypatch.setenv(weights_mod.OFFLINE_ENV, "1")
    assert main(["models"]) == 0
    out = capsys.readouterr().out
    for phrase in ("vgg16", "block5_conv3", "conv5_block3_out", "mixed10", "299×299", "grad_cam", "not on this"):
        assert phrase in out


def test_module_entry_point_runs():
    done = subprocess.run(
        [sys.executable, "-m", "explainers", "labels", "banana"],
        capture_output=True,
        text=True,
        timeout=120,
        cwd=str(__import__("pathlib").Path(__file__).parent.parent),
    )
    assert done.returncode == 0 and done.stdout.startswith("954 · banana")
