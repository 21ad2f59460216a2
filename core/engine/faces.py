"""Faces in a photo, for models that learned aligned faces: OpenCV's frontal-face Haar cascade
(its data file ships inside opencv-python) and the square a face fills in an aligned crop.

On the CelebA-HQ crops the faces recipe trains on, the cascade's box is 0.63 of the square's
side (0.53–0.74 on the recipe's 30 held-out faces), centred across it and 0.06 of the side below
its middle; `aligned_square` inverts that.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import cache

import cv2
import numpy as np

from core.errors import InvertFillError

CASCADE = "haarcascade_frontalface_default.xml"
DETECT_SIDE = 640
"""Faces are looked for in a copy whose longer side is at most this many pixels."""
BOX_TO_SQUARE = 1 / 0.63
BOX_BELOW_CENTRE = 0.06
MIN_FACE = 24
"""The smallest face found, in pixels of the detection copy."""


@dataclass(frozen=True)
class Square:
    """A square of side `side` at (top, left) in image pixels; it may reach past the image."""

    top: int
    left: int
    side: int

    def contains(self, y: float, x: float) -> bool:
        return self.top <= y < self.top + self.side and self.left <= x < self.left + self.side


@cache
def _cascade() -> cv2.CascadeClassifier:
    cascade = cv2.CascadeClassifier(cv2.data.haarcascades + CASCADE)
    if cascade.empty():
        raise InvertFillError(f"OpenCV's face detector {CASCADE} is missing from {cv2.data.haarcascades}; "
                              "reinstall opencv-python-headless 4.x (OpenCV 5 no longer ships it)")
    return cascade


def find_faces(rgb8: np.ndarray) -> list[tuple[float, float, float]]:
    """(H, W, 3) uint8 -> the frontal faces found, as (centre y, centre x, box side) in image pixels,
    largest first."""
    height, width = rgb8.shape[:2]
    scale = min(1.0, DETECT_SIDE / max(height, width))
    gray = cv2.cvtColor(rgb8, cv2.COLOR_RGB2GRAY)
    if scale < 1:
        gray = cv2.resize(gray, (max(1, round(width * scale)), max(1, round(height * scale))), interpolation=cv2.INTER_AREA)
    boxes = _cascade().detectMultiScale(cv2.equalizeHist(gray), scaleFactor=1.1, minNeighbors=5, minSize=(MIN_FACE, MIN_FACE))
    faces = [((y + h / 2) / scale, (x + w / 2) / scale, max(w, h) / scale) for x, y, w, h in np.reshape(boxes, (-1, 4))]
    return sorted(faces, key=lambda face: -face[2])


def aligned_square(face: tuple[float, float, float]) -> Square:
    """The square that `face` (centre y, centre x, box side) fills as the training faces filled theirs."""
    centre_y, centre_x, box = face
    side = round(box * BOX_TO_SQUARE)
    top = round(centre_y - side / 2 - BOX_BELOW_CENTRE * side)
    return Square(top, round(centre_x - side / 2), side)
