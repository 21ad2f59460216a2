"""The shipped default model (resources/models/default.safetensors): skipped while the build has none."""

import hashlib
from pathlib import Path

import numpy as np
import pytest

from core.engine.classic_fill import ClassicFill
from core.engine.inpainter import Inpainter
from core.io.image_io import Picture, read_image
from core.io.resources import DEFAULT_MODEL, resource_path
from core.masks.generation import bucket_mask
from training.data import image_files, square_crop
from training.metrics.pixel import psnr

MODEL = resource_path(*DEFAULT_MODEL)
SCENERY = Path(__file__).resolve().parents[2] / "shared" / "data" / "scenes" / "scenery512"

pytestmark = pytest.mark.skipif(not MODEL.is_file(), reason="no default model is shipped (training/recipes/scenes256 makes one)")


def test_the_default_model_is_the_checked_in_file():
    recorded = MODEL.with_name(MODEL.name + ".sha256").read_text().split()[0]
    assert hashlib.sha256(MODEL.read_bytes()).hexdigest() == recorded


def test_the_engine_takes_the_default_model_with_no_flag():
    inpainter = Inpainter(None, "cpu")
    assert not inpainter.is_classic and inpainter.resolution == 256 and inpainter.domain == "scenes"


@pytest.mark.skipif(not SCENERY.is_dir(), reason="../shared/data/scenes is not here")
def test_the_default_model_fills_held_out_scenes_better_than_telea():
    """The recipe holds out every 10th scenery image by name; `hard` holes, PSNR over the hole."""
    held_out = image_files(SCENERY)[9::10][:8]
    inpainter, telea = Inpainter(None, "cpu"), ClassicFill("telea")
    ours, theirs = [], []
    for index, path in enumerate(held_out):
        image = square_crop(read_image(path).rgb8(), 256, "center", np.random.default_rng(0))
        hole = bucket_mask("hard", 256, np.random.default_rng(index)).astype(bool)
        filled = inpainter.fill(Picture(image), hole, "full", seed=0).pictures[0].pixels
        assert np.array_equal(filled[~hole], image[~hole])
        ours.append(psnr(filled[hole], image[hole]))
        theirs.append(psnr(telea.fill_windows([image], [hole], 0, 0)[0][hole], image[hole]))
    assert np.mean(ours) > np.mean(theirs), (ours, theirs)
