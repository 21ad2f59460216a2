"""Counts in user-facing text agree with their number."""

import pytest

from core.wording import counted


@pytest.mark.parametrize(("count", "expected"), [(0, "0 images"), (1, "1 image"), (2, "2 images"), (270, "270 images")])
def test_counted_makes_the_noun_plural_unless_the_count_is_one(count, expected):
    assert counted(count, "image") == expected
