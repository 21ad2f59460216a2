"""Evaluation mask sets: seeded, in their bucket, with a manifest; written by `invertfill make-masks`."""

import json

from app.cli import main
from core.image_io import read_mask
from core.masks import BUCKETS


def test_make_masks_writes_a_seeded_set_with_its_manifest(tmp_path, capsys):
    for name in ("a", "b"):
        assert main(["make-masks", "--bucket", "hard", "--n", "5", "--res", "64", "--seed", "3", "-o", str(tmp_path / name)]) == 0
    assert "wrote 5 hard masks" in capsys.readouterr().out
    manifest = json.loads((tmp_path / "a" / "manifest.json").read_text())
    assert manifest["bucket"] == "hard" and manifest["n"] == 5 and manifest["seed"] == 3 and manifest["resolution"] == 64
    assert manifest["set_hash"] == json.loads((tmp_path / "b" / "manifest.json").read_text())["set_hash"]
    lo, hi = BUCKETS["hard"]
    for entry in manifest["masks"]:
        mask = read_mask(tmp_path / "a" / entry["file"])
        assert mask.shape == (64, 64) and lo <= entry["coverage"] <= hi
        assert abs(mask.mean() - entry["coverage"]) < 1e-5


def test_another_seed_gives_another_set_and_bad_arguments_are_refused(tmp_path, capsys):
    main(["make-masks", "--bucket", "outpaint", "--n", "3", "--res", "32", "--seed", "1", "-o", str(tmp_path / "a")])
    main(["make-masks", "--bucket", "outpaint", "--n", "3", "--res", "32", "--seed", "2", "-o", str(tmp_path / "b")])
    hashes = [json.loads((tmp_path / d / "manifest.json").read_text())["set_hash"] for d in "ab"]
    assert hashes[0] != hashes[1]
    code = main(["make-masks", "--bucket", "all", "--n", "0", "-o", str(tmp_path / "c")])
    assert code == 1 and "--n must be at least 1" in capsys.readouterr().err
