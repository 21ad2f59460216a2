"""The engine's masked copy (core.engine.masked_copy) writes exactly the masked pixels, also into a view."""

import numpy as np

from core.engine.masked_copy import copy_where


def test_only_the_masked_pixels_of_a_view_change():
    rng = np.random.default_rng(0)
    image = rng.integers(0, 256, (40, 50, 3)).astype(np.uint8)
    source = rng.integers(0, 256, (20, 30, 3)).astype(np.uint8)
    mask = rng.random((20, 30)) < 0.4
    expected = image.copy()
    expected[5:25, 10:40] = np.where(mask[..., None], source, image[5:25, 10:40])
    copy_where(image[5:25, 10:40], source, mask)
    assert np.array_equal(image, expected)
