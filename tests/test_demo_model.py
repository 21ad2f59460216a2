"""The bundled faces demo (resources/models/faces64-demo.safetensors), the first model in the suite that has
learned something: training/recipes/faces64 trained it on 270 CelebA-HQ faces (docs/reproduction.md)."""

import hashlib
from pathlib import Path

import cv2
import numpy as np
import pytest
from safetensors import safe_open

from core.engine.classic_fill import ClassicFill
from core.engine.inpainter import Inpainter
from core.io.checkpoint import load_checkpoint
from core.io.image_io import Picture, read_image
from core.io.resources import demo_models, resource_path
from training.data import image_files
from training.evaluation import fill_pairs, load_pairs, pixel_scores, write_mask_set
from training.stage2 import finetune_config

MODEL = resource_path("models", "faces64-demo.safetensors")
FACES = Path(__file__).resolve().parents[2] / "shared" / "data" / "faces" / "celebahq256"

pytestmark = pytest.mark.skipif(
    not MODEL.is_file(), reason="the faces demo is shipped once it beats Telea (docs/reproduction.md, 'What is open')"
)


def test_the_demo_model_is_the_checked_in_file_and_the_model_menu_lists_it():
    recorded = MODEL.with_name(MODEL.name + ".sha256").read_text().split()[0]
    assert hashlib.sha256(MODEL.read_bytes()).hexdigest() == recorded
    assert MODEL.stat().st_size <= 15 * 2**20
    assert MODEL in demo_models()


def test_the_demo_model_ships_with_its_discriminator_in_half_precision_for_fine_tuning():
    checkpoint = load_checkpoint(MODEL)
    assert set(checkpoint.parts) == {"invertfill", "discriminator"} and finetune_config(MODEL).backbone == "discriminator"
    assert checkpoint.part("discriminator").config.resolution == 64 and checkpoint.domain == "faces"
    assert checkpoint.card.framing == "aligned-face" and "CelebA-HQ" in checkpoint.card.data_terms
    with safe_open(str(MODEL), "pt") as tensors:
        assert {tensors.get_slice(key).get_dtype() for key in tensors.keys()} == {"F16"}


def test_the_demo_model_loads_as_a_64_px_faces_model():
    inpainter = Inpainter(MODEL, "cpu")
    assert not inpainter.is_classic and inpainter.resolution == 64 and inpainter.domain == "faces"


@pytest.mark.skipif(not FACES.is_dir(), reason="../shared/data/faces is not here")
def test_the_demo_model_fills_held_out_faces_better_than_the_classic_fills(tmp_path):
    """The recipe's held-out faces (every 10th by name) and its seeded `hard` masks; PSNR and SSIM on the
    composite, against OpenCV's Telea and Navier-Stokes fills."""
    held_out = tmp_path / "heldout"
    held_out.mkdir()
    for path in image_files(FACES)[9::10]:
        (held_out / path.name).symlink_to(path)
    write_mask_set("hard", 30, 64, 0, tmp_path / "masks")
    pairs = load_pairs(held_out, tmp_path / "masks", 64)
    ours = pixel_scores(pairs, fill_pairs(Inpainter(MODEL, "cpu").method, pairs))
    assert len(pairs) == 30
    for classic in ("telea", "ns"):
        theirs = pixel_scores(pairs, fill_pairs(ClassicFill(classic), pairs))
        assert ours["PSNR"] > theirs["PSNR"] and ours["SSIM"] > theirs["SSIM"], (classic, ours, theirs)


def test_the_demo_model_names_its_data_terms():
    assert "CelebA-HQ" in Inpainter(MODEL, "cpu").data_terms and "non-commercial" in Inpainter(MODEL, "cpu").data_terms


@pytest.mark.skipif(not FACES.is_dir(), reason="../shared/data/faces is not here")
def test_the_demo_models_variations_are_visibly_different():
    """Three held-out faces with their middle filled 4 times: the variations' holes differ from the first
    fill by 12 grey levels or more on average (a mean over 256 styles gave 6-7)."""
    inpainter = Inpainter(MODEL, "cpu")
    hole = np.zeros((64, 64), bool)
    hole[18:50, 14:50] = True
    differences = []
    for path in image_files(FACES)[9::100]:
        picture = Picture(cv2.resize(read_image(path).rgb8(), (64, 64), interpolation=cv2.INTER_AREA))
        result = inpainter.fill(picture, hole, "full", seed=1, variations=4)
        first = result.pictures[0].pixels[hole].astype(float)
        differences += [np.abs(p.pixels[hole] - first).mean() for p in result.pictures[1:]]
    assert np.mean(differences) >= 12, differences


@pytest.mark.skipif(not FACES.is_dir(), reason="../shared/data/faces is not here")
@pytest.mark.parametrize("name", ["celebahq_a00043.png", "celebahq_a00054.png"])
def test_a_small_hole_on_a_forehead_is_filled_with_skin_not_a_face(name):
    """A 20-px hole on the forehead of a held-out face at 256 px. The default strategy shows the model
    the whole face, so the hole gets skin close to the truth; a crop window showed it a patch of skin,
    into which it painted a tiny face (mean error 10.8 and 19.3 levels on these two faces)."""
    picture = read_image(FACES / name)
    hole = np.zeros((256, 256), bool)
    hole[62:82, 118:138] = True
    fill = Inpainter(MODEL, "cpu").fill(picture, hole, seed=0).pictures[0].rgb8()[hole].astype(float)
    truth = picture.rgb8()[hole].astype(float)
    assert np.abs(fill - truth).mean() < 7.5
    assert fill.std(axis=0).mean() < 1.5 * truth.std(axis=0).mean() + 3, "no features: as even as the skin it replaces"
