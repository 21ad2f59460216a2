"""The figures of docs/reproduction.md from a recipe's WORK folder (OpenCV only, no plotting library).

    python training/recipes/figures.py WORK

Writes WORK/figures/: losses-<stage>.png, the loss curves from WORK/<stage>.jsonl (the --progress
json lines) against thousands of images; stage1-samples.png, the stage-1 sample grids (fixed
latents) at three points of training side by side; fills-<variant>.png, the last stage-2 fill grid
of each variant, stage2-<variant> (fills-full.png for a lone stage2) (rows: masked input, generator
output, composite, original).
"""

from __future__ import annotations

import json
import shutil
import sys
from pathlib import Path

import cv2
import numpy as np

SIZE = (720, 360)
MARGIN = (70, 30, 20, 40)
COLOURS = [(31, 119, 180), (255, 127, 14), (44, 160, 44), (214, 39, 40), (148, 103, 189), (140, 86, 75), (227, 119, 194)]
STAGE1_SERIES = ("loss_G", "loss_D", "loss_r1", "loss_path_length", "augment_p")
STAGE2_SERIES = ("loss_total", "loss_hole", "loss_valid", "loss_perceptual", "loss_style", "loss_msr", "loss_fid")


def read_progress(path: Path) -> list[dict]:
    """The JSON progress lines of one stage (non-JSON lines are skipped)."""
    rows = []
    for line in path.read_text().splitlines():
        if line.startswith("{"):
            rows.append(json.loads(line))
    return rows


def text(canvas: np.ndarray, label: str, origin: tuple[int, int], colour=(0, 0, 0), scale: float = 0.45) -> None:
    cv2.putText(canvas, label, origin, cv2.FONT_HERSHEY_SIMPLEX, scale, colour, 1, cv2.LINE_AA)


def plot(rows: list[dict], series: tuple[str, ...], title: str) -> np.ndarray:
    """A line plot (H, W, 3) RGB of each series against kimg, on a log y axis with labelled ticks; a series
    with no positive value (a loss switched off) has no line and is left out of the legend."""
    width, height = SIZE
    left, top, right, bottom = MARGIN
    canvas = np.full((height, width, 3), 255, np.uint8)
    x = np.array([row["kimg"] for row in rows])
    values = {name: np.array([row.get(name, np.nan) for row in rows], dtype=float) for name in series}
    values = {name: v for name, v in values.items() if (v > 0).any()}
    positive = np.concatenate([v[v > 0] for v in values.values()])
    low, high = np.log10(positive.min()), np.log10(positive.max())
    low, high = np.floor(low), np.ceil(high) if high > low else np.floor(low) + 1

    def to_pixel(kimg: np.ndarray, value: np.ndarray) -> np.ndarray:
        px = left + (kimg - x.min()) / max(x.max() - x.min(), 1e-9) * (width - left - right)
        py = height - bottom - (np.log10(value) - low) / (high - low) * (height - top - bottom)
        return np.stack([px, py], axis=-1)

    cv2.rectangle(canvas, (left, top), (width - right, height - bottom), (0, 0, 0), 1)
    for decade in range(int(low), int(high) + 1):
        y = int(to_pixel(x[:1], np.array([10.0**decade]))[0, 1])
        cv2.line(canvas, (left, y), (width - right, y), (220, 220, 220), 1)
        text(canvas, f"1e{decade}", (8, y + 5))
    for fraction in np.linspace(0, 1, 5):
        kimg = x.min() + fraction * (x.max() - x.min())
        px = int(to_pixel(np.array([kimg]), np.array([10.0**low]))[0, 0])
        text(canvas, f"{kimg:.0f}", (px - 10, height - bottom + 18))
    text(canvas, "thousands of images", (width // 2 - 70, height - 6))
    text(canvas, title, (left, top - 10), scale=0.55)
    for i, name in enumerate(values):
        colour = COLOURS[i % len(COLOURS)]
        keep = values[name] > 0
        points = to_pixel(x[keep], values[name][keep]).round().astype(np.int32)
        cv2.polylines(canvas, [points], False, colour, 1, cv2.LINE_AA)
        text(canvas, name.removeprefix("loss_"), (width - right - 130, top + 18 + 16 * i), colour)
    return canvas


def label_above(image: np.ndarray, label: str) -> np.ndarray:
    band = np.full((24, image.shape[1], 3), 255, np.uint8)
    text(band, label, (4, 17))
    return np.concatenate([band, image])


def write_png(path: Path, rgb: np.ndarray) -> None:
    cv2.imwrite(str(path), cv2.cvtColor(rgb, cv2.COLOR_RGB2BGR))


def read_png(path: Path) -> np.ndarray:
    return cv2.cvtColor(cv2.imread(str(path)), cv2.COLOR_BGR2RGB)


def main(work: Path) -> None:
    out = work / "figures"
    out.mkdir(exist_ok=True)
    for log in sorted(work.glob("*.jsonl")):
        stage = log.stem
        series = STAGE1_SERIES if stage == "stage1" else STAGE2_SERIES
        rows = [row for row in read_progress(log) if "kimg" in row]
        if len(rows) > 1:
            write_png(out / f"losses-{stage}.png", plot(rows, series, f"{stage}: mean loss per tick"))
    grids = sorted((work / "stage1" / "samples").glob("fakes-*.png"))
    if grids:
        chosen = [grids[round(i * (len(grids) - 1) / 2)] for i in range(3)]
        panels = [label_above(read_png(path), f"{int(path.stem.split('-')[1]) / 1000:.0f} kimg") for path in chosen]
        gap = np.full((panels[0].shape[0], 8, 3), 255, np.uint8)
        write_png(out / "stage1-samples.png", np.concatenate([panels[0], gap, panels[1], gap, panels[2]], axis=1))
    for stage in sorted(work.glob("stage2*/samples")):
        fills = sorted(stage.glob("fills-*.png"))
        if fills:
            variant = stage.parent.name.removeprefix("stage2").removeprefix("-") or "full"
            shutil.copyfile(fills[-1], out / f"fills-{variant}.png")


if __name__ == "__main__":
    main(Path(sys.argv[1]))
