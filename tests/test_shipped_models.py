"""The bundled models: the default (resources/models/default.safetensors), the general model of
training/recipes/general64 (2,005 everyday photos), and the faces demo (resources/models/faces64-demo.safetensors),
the first model in the suite that learned something (training/recipes/faces64, 270 CelebA-HQ faces);
docs/reproduction.md tells both."""

import hashlib
from dataclasses import dataclass
from pathlib import Path

import cv2
import numpy as np
import pytest
from safetensors import safe_open

from core.engine.classic_fill import ClassicFill
from core.engine.inpainter import Inpainter
from core.io.checkpoint import load_checkpoint
from core.io.image_io import Picture, read_image
from core.io.resources import default_model_path, demo_models, resource_path
from training.data import image_files
from training.evaluation import fill_pairs, load_pairs, pixel_scores, write_mask_set
from training.stage2 import finetune_config

DATA = Path(__file__).resolve().parents[2] / "shared" / "data"
FACES = DATA / "faces" / "celebahq256"


@dataclass(frozen=True)
class Shipped:
    """A shipped model and what it must be: its domain, framing, a name in its data terms, the folder
    whose every 10th photo (by name) its recipe held out, and whether it is the default (else a demo)."""

    file: str
    domain: str
    framing: str
    terms: str
    photos: Path
    default: bool = False

    @property
    def path(self) -> Path:
        return resource_path("models", self.file)


SCENERY = DATA / "scenes" / "scenery512"
SHIPPED = [
    Shipped("faces64-demo.safetensors", "faces", "aligned-face", "CelebA-HQ", FACES),
    Shipped("default.safetensors", "general", "scene", "Places365", SCENERY, default=True),
]
MODEL = SHIPPED[0].path
each_demo = pytest.mark.parametrize("demo", SHIPPED, ids=[demo.domain for demo in SHIPPED])


@each_demo
def test_the_shipped_model_is_the_checked_in_file_and_the_model_menu_offers_it(demo):
    recorded = demo.path.with_name(demo.file + ".sha256").read_text().split()[0]
    assert hashlib.sha256(demo.path.read_bytes()).hexdigest() == recorded
    assert demo.path.stat().st_size <= 15 * 2**20
    assert (default_model_path() == demo.path) if demo.default else (demo.path in demo_models())


def test_the_engine_takes_the_default_model_with_no_flag():
    inpainter = Inpainter(None, "cpu")
    assert inpainter.checkpoint == default_model_path() and not inpainter.is_classic
    assert inpainter.domain == "general" and inpainter.method.framing == "scene"


@each_demo
def test_the_demo_model_ships_with_its_discriminator_in_half_precision_for_fine_tuning(demo):
    checkpoint = load_checkpoint(demo.path)
    assert set(checkpoint.parts) == {"invertfill", "discriminator"} and finetune_config(demo.path).backbone == "discriminator"
    assert checkpoint.part("discriminator").config.resolution == 64 and checkpoint.domain == demo.domain
    assert checkpoint.card.framing == demo.framing and demo.terms in checkpoint.card.data_terms
    with safe_open(str(demo.path), "pt") as tensors:
        assert {tensors.get_slice(key).get_dtype() for key in tensors.keys()} == {"F16"}


@each_demo
def test_the_demo_model_loads_as_a_64_px_model_of_its_domain(demo):
    inpainter = Inpainter(demo.path, "cpu")
    assert not inpainter.is_classic and inpainter.resolution == 64 and inpainter.domain == demo.domain


@pytest.mark.skipif(not FACES.is_dir(), reason="../shared/data/faces is not here")
def test_the_faces_demo_fills_its_held_out_faces_better_than_the_classic_fills(tmp_path):
    """The recipe's held-out faces (every 10th by name) at 64 px, the demo's own size, and seeded `hard`
    masks; PSNR and SSIM on the composite, against OpenCV's Telea and Navier-Stokes fills. (The general
    model is held to its issue's bar at 512 px, below: at its own size it trails them, docs/reproduction.md.)"""
    demo = SHIPPED[0]
    held_out = tmp_path / "heldout"
    held_out.mkdir()
    for path in image_files(demo.photos)[9::10]:
        (held_out / path.name).symlink_to(path)
    count = len(list(held_out.iterdir()))
    write_mask_set("hard", count, 64, 0, tmp_path / "masks")
    pairs = load_pairs(held_out, tmp_path / "masks", 64)
    ours = pixel_scores(pairs, fill_pairs(Inpainter(demo.path, "cpu").method, pairs))
    assert len(pairs) == count >= 30
    for classic in ("telea", "ns"):
        theirs = pixel_scores(pairs, fill_pairs(ClassicFill(classic), pairs))
        assert ours["PSNR"] > theirs["PSNR"] and ours["SSIM"] > theirs["SSIM"], (classic, ours, theirs)


@pytest.mark.skipif(not SCENERY.is_dir(), reason="../shared/data/scenes is not here")
def test_the_default_model_fills_held_out_photos_at_512_px_better_than_the_classic_fills(tmp_path):
    """12 of the recipe's held-out scenery photos at 512 px with seeded `hard` masks, every method with the
    default strategy: PSNR and SSIM on the composite (22.25 dB, 0.745 against Telea's 21.66, 0.714)."""
    held_out = tmp_path / "heldout"
    held_out.mkdir()
    for path in image_files(SHIPPED[1].photos)[9::10][:12]:
        (held_out / path.name).symlink_to(path)
    write_mask_set("hard", 12, 512, 0, tmp_path / "masks")
    pairs = load_pairs(held_out, tmp_path / "masks", 512)
    ours = pixel_scores(pairs, fill_pairs(Inpainter(None, "cpu").method, pairs))
    for classic in ("telea", "ns"):
        theirs = pixel_scores(pairs, fill_pairs(ClassicFill(classic), pairs))
        assert ours["PSNR"] > theirs["PSNR"] and ours["SSIM"] > theirs["SSIM"], (classic, ours, theirs)


@each_demo
def test_the_demo_model_names_its_data_terms(demo):
    terms = Inpainter(demo.path, "cpu").data_terms
    assert demo.terms in terms and "non-commercial" in terms


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
