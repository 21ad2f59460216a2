"""Evaluation: seeded mask sets with manifests, the runner, its report, and the --pred/--gt mode."""

import json

import numpy as np
import pytest
import torch

from app.cli import main
from core.engine.classic_fill import ClassicFill
from core.errors import InvertFillError
from core.io.image_io import Picture, read_image, write_image
from core.masks.generation import BUCKETS
from core.masks.reading import read_mask
from training.evaluation import evaluate, load_pairs


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


@pytest.fixture
def eval_set(tmp_path):
    rng = np.random.default_rng(0)
    for i in range(8):
        small = rng.integers(0, 256, (4, 4, 3)).astype(np.uint8)
        write_image(tmp_path / "images" / f"img{i}.png", Picture(np.kron(small, np.ones((10, 10, 1), np.uint8))))
    main(["make-masks", "--bucket", "all", "--n", "4", "--res", "32", "--seed", "0", "-o", str(tmp_path / "all")])
    main(["make-masks", "--bucket", "hard", "--n", "4", "--res", "32", "--seed", "0", "-o", str(tmp_path / "hard")])
    return tmp_path / "images", {"all": tmp_path / "all", "hard": tmp_path / "hard"}


def test_eval_writes_the_table_the_composites_and_the_grid(eval_set, tiny_checkpoint, tmp_path, capsys):
    images, masks = eval_set
    code = main(["eval", "--images", str(images), "--masks", str(masks["all"]), "--masks", str(masks["hard"]), "--model", f"ours={tiny_checkpoint}",
                 "--baseline", "telea", "--baseline", "ns", "--res", "32", "--device", "cpu", "-o", str(tmp_path / "report")])
    out = capsys.readouterr().out
    assert code == 0 and "| ours |" in out and "| Telea |" in out and "| Navier–Stokes |" in out
    report = (tmp_path / "report" / "report.md").read_text()
    assert "mask sets: all " in report and "composited images" in report and "11×11 Gaussian" in report
    assert "| method | all PSNR ↑ | all SSIM ↑ | all seam ↓ | all sharpness → 1 | hard PSNR ↑ |" in report
    assert "the ground truth itself scores all " in report and "strategy: detail" in report
    csv = (tmp_path / "report" / "report.csv").read_text().splitlines()
    assert csv[0] == "method,all PSNR ↑,all SSIM ↑,all seam ↓,all sharpness → 1,hard PSNR ↑,hard SSIM ↑,hard seam ↓,hard sharpness → 1"
    assert len(csv) == 4
    assert len(list((tmp_path / "report" / "hard" / "ours").glob("*.png"))) == 8
    grid = read_image(tmp_path / "report" / "examples-hard.png").pixels
    assert grid.shape == (4 * 32, 6 * 32, 3)
    for row in csv[1:]:
        psnr_all, ssim_all, seam_all, sharp_all, psnr_hard, ssim_hard, seam_hard, sharp_hard = [float(v) for v in row.split(",")[1:]]
        assert 0 < ssim_all <= 1 and 0 < ssim_hard <= 1 and psnr_all > 5 and psnr_hard > 5 and 0 <= seam_all <= 255 and 0 <= seam_hard <= 255
        assert 0 < sharp_all < 3 and 0 < sharp_hard < 3


def test_pred_gt_mode_scores_the_same_composites_identically(eval_set, tmp_path):
    images, masks = eval_set
    one = {"all": masks["all"]}
    model_scores = evaluate(images, one, tmp_path / "a", methods={"Telea": ClassicFill("telea")}, resolution=32)
    pred_scores = evaluate(images, one, tmp_path / "b", predictions={"Telea": tmp_path / "a" / "all" / "Telea"}, resolution=32)
    assert pred_scores == model_scores


def test_pred_mode_needs_every_prediction(eval_set, tmp_path):
    images, masks = eval_set
    (tmp_path / "partial").mkdir()
    with pytest.raises(InvertFillError, match="no prediction named img0"):
        evaluate(images, masks, tmp_path / "c", predictions={"x": tmp_path / "partial"}, resolution=32)


def test_predictions_are_read_per_bucket_when_given_so(eval_set, tmp_path):
    images, masks = eval_set
    evaluate(images, masks, tmp_path / "a", methods={"NS": ClassicFill("ns")}, resolution=32)
    pred = tmp_path / "pred"
    for bucket in masks:
        (pred / bucket).mkdir(parents=True)
        for png in (tmp_path / "a" / bucket / "NS").iterdir():
            (pred / bucket / png.name).write_bytes(png.read_bytes())
    assert evaluate(images, masks, tmp_path / "b", predictions={"NS": pred}, resolution=32)["hard"]["NS"] == \
        evaluate(images, masks, tmp_path / "c", methods={"NS": ClassicFill("ns")}, resolution=32)["hard"]["NS"]


def test_fid_is_computed_with_weights_and_skipped_with_a_reason_without(eval_set, tmp_path, hub_dir):
    from test_fid import _standard_state_dict

    images, masks = eval_set
    one = {"hard": masks["hard"]}
    scores = evaluate(images, one, tmp_path / "none", methods={"NS": ClassicFill("ns")}, resolution=32)
    assert "FID" not in scores["hard"]["NS"]
    assert "FID: skipped: " in (tmp_path / "none" / "report.md").read_text()
    weights = tmp_path / "pt_inception-2015-12-05-6726825d.pth"
    torch.save(_standard_state_dict(), weights)
    scores = evaluate(images, one, tmp_path / "with", methods={"NS": ClassicFill("ns")}, resolution=32, fid_weights=weights)
    assert scores["hard"]["NS"]["FID"] >= 0 and "InceptionV3 pool features" in (tmp_path / "with" / "report.md").read_text()
    assert list((tmp_path / "with" / "cache").glob("fid-*.npz"))


def test_lpips_is_computed_from_the_hub_cache_and_zero_for_a_perfect_method(eval_set, tmp_path, hub_dir):
    from test_lpips import _random_heads_state, _random_trunk_state

    from training.metrics.lpips import default_heads_path, default_trunk_path

    images, masks = eval_set
    one = {"hard": masks["hard"]}
    evaluate(images, one, tmp_path / "none", methods={"NS": ClassicFill("ns")}, resolution=32)
    assert "LPIPS: skipped: " in (tmp_path / "none" / "report.md").read_text()
    for path, state in ((default_trunk_path("alex"), _random_trunk_state("alex")), (default_heads_path("alex"), _random_heads_state("alex"))):
        path.parent.mkdir(parents=True, exist_ok=True)
        torch.save(state, path)
    perfect = tmp_path / "perfect"
    for pair in load_pairs(images, masks["hard"], 32):
        write_image(perfect / f"{pair.name}.png", Picture(pair.image))
    scores = evaluate(images, one, tmp_path / "with", methods={"NS": ClassicFill("ns")}, predictions={"perfect": perfect}, resolution=32)
    assert scores["hard"]["NS"]["LPIPS"] > 0
    assert scores["hard"]["perfect"]["LPIPS"] == 0 and scores["hard"]["perfect"]["SSIM"] == pytest.approx(1.0)
    assert "v0.1, alex trunk" in (tmp_path / "with" / "report.md").read_text()


def test_every_method_gets_a_seam_and_a_perfect_one_scores_the_ground_truths_own(eval_set, tmp_path):
    images, masks = eval_set
    perfect = tmp_path / "perfect"
    for pair in load_pairs(images, masks["hard"], 32):
        write_image(perfect / f"{pair.name}.png", Picture(pair.image))
    scores = evaluate(images, {"hard": masks["hard"]}, tmp_path / "r", methods={"NS": ClassicFill("ns")}, predictions={"perfect": perfect}, resolution=32)
    assert all(0 <= scores["hard"][method]["seam"] <= 255 for method in ("NS", "perfect"))
    report = (tmp_path / "r" / "report.md").read_text()
    assert f"the ground truth itself scores hard {scores['hard']['perfect']['seam']:.2f}" in report
