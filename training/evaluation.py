"""The paper's evaluation protocol (§4.1–4.2): fixed, seeded mask sets shared by every method, every
method filled and scored on the same image–mask pairs, on composited images."""

from __future__ import annotations

import hashlib
import json
import math
import os
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch

from core import __version__
from core.engine.choices import DEFAULT_STRATEGY
from core.engine.fill_methods import FillMethod
from core.engine.fill_strategy import fill_rgb8
from core.errors import InvertFillError
from core.io.atomic_write import atomic_write
from core.io.image_io import IMAGE_SUFFIXES, Picture, read_image, write_image
from core.masks.generation import BUCKETS, MAX_TRIES, MaskFolder, coverage_of, mask_set

from .data import image_files, square_crop
from .metrics.fid import cached_statistics, compute_features, feature_statistics, frechet_distance
from .metrics.inception import load_fid_inception
from .metrics.lpips import load_lpips
from .metrics.pixel import hole_gradient, psnr, seam, ssim

MASK_SET_BUCKETS = (*BUCKETS, "outpaint")
METRIC_DIRECTIONS = {"PSNR": "↑", "SSIM": "↑", "seam": "↓", "sharpness": "→ 1", "FID": "↓", "LPIPS": "↓"}
"""Every metric of a report, in the order of its columns, with the direction that is better."""
MANIFEST = "manifest.json"


def write_mask_set(bucket: str, n: int, resolution: int, seed: int, out: str | os.PathLike[str]) -> Path:
    """Write n seeded masks of a bucket as OUT/00000.png … (white = hole) and OUT/manifest.json.

    The manifest records the settings, each mask's coverage and a hash of the whole set, so a
    report can name exactly the masks it was computed on.
    """
    if bucket not in MASK_SET_BUCKETS:
        raise InvertFillError(f"unknown bucket {bucket!r}; use {', '.join(MASK_SET_BUCKETS)}")
    if n < 1 or resolution < 8:
        raise InvertFillError("--n must be at least 1 and --res at least 8")
    out = Path(out)
    digest = hashlib.sha256()
    entries = []
    for index, mask in enumerate(mask_set(bucket, n, resolution, seed)):
        name = f"{index:05d}.png"
        write_image(out / name, Picture(np.where(mask[..., None], 255, 0).astype(np.uint8)))
        digest.update(np.packbits(mask).tobytes())
        entries.append({"file": name, "coverage": round(coverage_of(mask), 6)})
    manifest = {
        "bucket": bucket,
        "coverage_range": list(BUCKETS[bucket]) if bucket in BUCKETS else None,
        "n": n,
        "resolution": resolution,
        "seed": seed,
        "generator": {"module": "core.masks.generation", "max_tries": MAX_TRIES, "invertfill_studio": __version__},
        "set_hash": digest.hexdigest(),
        "masks": entries,
    }
    with atomic_write(out / MANIFEST) as tmp:
        tmp.write_text(json.dumps(manifest, indent=1))
    return out / MANIFEST


@dataclass
class EvalPair:
    """One evaluation case: a ground-truth image (H, W, 3 uint8) and its hole mask (H, W bool)."""

    name: str
    image: np.ndarray
    hole: np.ndarray


def load_pairs(images_dir: str | os.PathLike[str], masks_dir: str | os.PathLike[str], resolution: int) -> list[EvalPair]:
    """Images (sorted, centre-cropped and resized to `resolution`) paired with masks in order, cycling."""
    files = image_files(Path(images_dir))
    if not files:
        raise InvertFillError(f"no images in {images_dir}")
    masks = MaskFolder(masks_dir, resolution)
    pairs = []
    for index, path in enumerate(files):
        image = square_crop(read_image(path).rgb8(), resolution, "center", np.random.default_rng(0))
        pairs.append(EvalPair(path.stem, image, masks.load(index % len(masks))))
    return pairs


def composite(image: np.ndarray, output: np.ndarray, hole: np.ndarray) -> np.ndarray:
    """I ⊙ (1 − M) + O ⊙ M for uint8 (H, W, 3) images."""
    return np.where(hole[..., None], output, image)


def fill_pairs(method: FillMethod, pairs: list[EvalPair], seed: int = 0, strategy: str = DEFAULT_STRATEGY) -> list[np.ndarray]:
    """Every pair filled by `method` with `strategy`: the compositions."""
    return [composite(p.image, fill_rgb8(method, p.image, p.hole, strategy, seed), p.hole) for p in pairs]


def _batches(images: list[np.ndarray], size: int = 16):
    """uint8 (H, W, 3) images -> float batches (B, 3, H, W) in [-1, 1]."""
    for start in range(0, len(images), size):
        chunk = np.stack(images[start : start + size])
        yield torch.from_numpy(chunk).permute(0, 3, 1, 2).float() / 127.5 - 1


class PerceptualMetrics:
    """FID and LPIPS networks when their weight files are present; otherwise the reason each is skipped."""

    def __init__(self, fid_weights: str | os.PathLike[str] | None, lpips_trunk: str, cache_dir: Path, device: torch.device) -> None:
        self.device, self.cache_dir, self.lpips_trunk = device, cache_dir, lpips_trunk
        self.skipped: dict[str, str] = {}
        self.inception = self.lpips = None
        try:
            self.inception = load_fid_inception(fid_weights).to(device)
        except InvertFillError as error:
            self.skipped["FID"] = str(error)
        try:
            self.lpips = load_lpips(lpips_trunk).to(device)
        except InvertFillError as error:
            self.skipped["LPIPS"] = str(error)

    def scores(self, pairs: list[EvalPair], composites: list[np.ndarray], real_key: str) -> dict[str, float]:
        """FID of the composites against the ground truth, and their mean LPIPS distance to it."""
        scores = {}
        if self.inception is not None and len(pairs) >= 2:
            real = cached_statistics(
                real_key, self.cache_dir, lambda: feature_statistics(compute_features(self.inception, _batches([p.image for p in pairs]), self.device))
            )
            fake = feature_statistics(compute_features(self.inception, _batches(composites), self.device))
            scores["FID"] = frechet_distance(*fake, *real)
        if self.lpips is not None:
            with torch.no_grad():
                distances = [
                    self.lpips(fake.to(self.device), real.to(self.device))
                    for fake, real in zip(_batches(composites), _batches([p.image for p in pairs]))
                ]
            scores["LPIPS"] = float(torch.cat(distances).mean())
        return scores

    def describe(self, name: str, used: str) -> str:
        return used if name not in self.skipped else f"skipped: {self.skipped[name]}"


def mean_seam(pairs: list[EvalPair], images: list[np.ndarray]) -> float:
    """Mean seam of the images over the set, leaving out masks without a hole–known boundary (NaN)."""
    seams = [v for v in (seam(image, p.hole) for p, image in zip(pairs, images)) if not math.isnan(v)]
    return float(np.mean(seams)) if seams else math.nan


def mean_sharpness(pairs: list[EvalPair], composites: list[np.ndarray]) -> float:
    """Mean over the set of the hole's gradient in the composite over the ground truth's (pairs
    whose ground truth is flat in the hole, or that have no hole, left out)."""
    ratios = []
    for pair, image in zip(pairs, composites):
        truth = hole_gradient(pair.image, pair.hole)
        if truth > 0:
            ratios.append(hole_gradient(image, pair.hole) / truth)
    return float(np.mean(ratios)) if ratios else math.nan


def pixel_scores(pairs: list[EvalPair], composites: list[np.ndarray]) -> dict[str, float]:
    """Mean SSIM, PSNR (finite PSNRs only; an all-known mask gives infinity), seam and sharpness over the set."""
    ssims = [ssim(c, p.image) for p, c in zip(pairs, composites)]
    psnrs = [v for v in (psnr(c, p.image) for p, c in zip(pairs, composites)) if math.isfinite(v)]
    return {"SSIM": float(np.mean(ssims)), "PSNR": float(np.mean(psnrs)) if psnrs else math.inf, "seam": mean_seam(pairs, composites),
            "sharpness": mean_sharpness(pairs, composites)}


def read_predictions(pred_dir: str | os.PathLike[str], pairs: list[EvalPair], bucket: str) -> list[np.ndarray]:
    """Another method's outputs, named like the images (in PRED/<bucket>/ when that exists), composited."""
    folder = Path(pred_dir) / bucket if (Path(pred_dir) / bucket).is_dir() else Path(pred_dir)
    outputs = []
    for pair in pairs:
        matches = [p for p in folder.glob(f"{pair.name}.*") if p.suffix.lower() in IMAGE_SUFFIXES]
        if not matches:
            raise InvertFillError(f"no prediction named {pair.name}.* in {folder}")
        output = read_image(matches[0]).rgb8()
        if output.shape != pair.image.shape:
            raise InvertFillError(f"{matches[0].name} is {output.shape[1]}×{output.shape[0]}, the ground truth {pair.image.shape[1]}×{pair.image.shape[0]}")
        outputs.append(composite(pair.image, output, pair.hole))
    return outputs


def mask_set_name(folder: str | os.PathLike[str]) -> str:
    """The bucket a mask set's manifest names, or the folder's name."""
    manifest = Path(folder) / MANIFEST
    return json.loads(manifest.read_text())["bucket"] if manifest.is_file() else Path(folder).name


def write_composites(folder: Path, pairs: list[EvalPair], composites: list[np.ndarray]) -> None:
    for pair, image in zip(pairs, composites):
        write_image(folder / f"{pair.name}.png", Picture(image))


def report_table(scores: dict[str, dict[str, dict[str, float]]], settings: dict[str, object]) -> tuple[str, str]:
    """Markdown and CSV in the layout of the paper's Table 1: a row per method, a column per
    (bucket, metric) headed with the better direction ("hard seam ↓"), and the settings that
    change the numbers under the table.

    scores: {bucket: {method: {metric: value}}}, metrics named as in METRIC_DIRECTIONS
    """
    columns = [(bucket, metric) for bucket, rows in scores.items() for metric in METRIC_DIRECTIONS if any(metric in r for r in rows.values())]
    methods = list(dict.fromkeys(m for rows in scores.values() for m in rows))
    headers = [f"{b} {m} {METRIC_DIRECTIONS[m]}" for b, m in columns]
    lines = ["| method | " + " | ".join(headers) + " |", "| --- |" + " ---: |" * len(columns)]
    csv_lines = ["method," + ",".join(headers)]
    for method in methods:
        values = [scores[b].get(method, {}).get(m) for b, m in columns]
        lines.append(f"| {method} | " + " | ".join("-" if v is None else f"{v:.4f}" for v in values) + " |")
        csv_lines.append(method + "," + ",".join("" if v is None else f"{v:.6f}" for v in values))
    lines.append("")
    lines.extend(f"- {key}: {value}" for key, value in settings.items())
    return "\n".join(lines) + "\n", "\n".join(csv_lines) + "\n"


def example_grid(pairs: list[EvalPair], results: dict[str, list[np.ndarray]], count: int = 4) -> np.ndarray:
    """Rows of input (masked), mask, each method's composite and the ground truth: (rows·H, cols·W, 3)."""
    rows = []
    for i, pair in enumerate(pairs[:count]):
        masked = np.where(pair.hole[..., None], 127, pair.image).astype(np.uint8)
        mask = np.repeat(np.where(pair.hole, 255, 0).astype(np.uint8)[..., None], 3, axis=2)
        rows.append(np.concatenate([masked, mask, *(results[m][i] for m in results), pair.image], axis=1))
    return np.concatenate(rows, axis=0)


def evaluate(
    images_dir: str | os.PathLike[str],
    mask_sets: dict[str, str | os.PathLike[str]],
    out: str | os.PathLike[str],
    methods: dict[str, FillMethod] | None = None,
    predictions: dict[str, str | os.PathLike[str]] | None = None,
    resolution: int = 256,
    seed: int = 0,
    fid_weights: str | os.PathLike[str] | None = None,
    lpips_trunk: str = "alex",
    device: str = "cpu",
    strategy: str = DEFAULT_STRATEGY,
) -> dict[str, dict[str, dict[str, float]]]:
    """For each mask set (bucket), fill (or read) every image–mask pair by each method and score
    the compositions; write OUT/<bucket>/<method>/*.png, OUT/examples-<bucket>.png, OUT/report.md
    and OUT/report.csv. Methods fill images larger than their own size by `strategy`.
    Returns {bucket: {method: {metric: value}}}."""
    if not methods and not predictions:
        raise InvertFillError("nothing to evaluate: give a model, a baseline or predictions")
    out = Path(out)
    perceptual = PerceptualMetrics(fid_weights, lpips_trunk, out / "cache", torch.device(device))
    scores: dict[str, dict[str, dict[str, float]]] = {}
    hashes, ground_truth_seams, count = {}, {}, 0
    for bucket, masks_dir in mask_sets.items():
        pairs = load_pairs(images_dir, masks_dir, resolution)
        count = len(pairs)
        ground_truth_seams[bucket] = mean_seam(pairs, [p.image for p in pairs])
        results = {name: fill_pairs(method, pairs, seed, strategy) for name, method in (methods or {}).items()}
        results.update({name: read_predictions(folder, pairs, bucket) for name, folder in (predictions or {}).items()})
        scores[bucket] = {}
        for name, composites in results.items():
            write_composites(out / bucket / name, pairs, composites)
            real_key = f"{Path(images_dir).resolve()}|{resolution}|" + ",".join(p.name for p in pairs)
            scores[bucket][name] = {**pixel_scores(pairs, composites), **perceptual.scores(pairs, composites, real_key)}
        write_image(out / f"examples-{bucket}.png", Picture(example_grid(pairs, results)))
        manifest = Path(masks_dir) / MANIFEST
        hashes[bucket] = json.loads(manifest.read_text())["set_hash"][:12] if manifest.is_file() else f"(no manifest: {masks_dir})"
    settings = {
        "images": f"{count} from {images_dir}, centre-cropped to {resolution}×{resolution}, paired with masks in order",
        "mask sets": ", ".join(f"{b} {h}" for b, h in hashes.items()),
        "strategy": f"{strategy} (for images larger than a method's own size)",
        "scored on": "composited images I ⊙ (1 − M) + O ⊙ M",
        "SSIM": "RGB, 11×11 Gaussian window σ = 1.5, K1 0.01, K2 0.03, data range 255, 5-px border excluded",
        "PSNR": "dB, data range 255, mean over images (infinite values left out)",
        "seam": "colour step across the hole's boundary: mean over RGB of |C(p) − C(q)| in 8-bit levels over every hole pixel p and known "
        "4-neighbour q, mean over images (masks without such a pair left out); the ground truth itself scores "
        + ", ".join(f"{b} {v:.2f}" for b, v in ground_truth_seams.items()),
        "FID": perceptual.describe(
            "FID", f"InceptionV3 pool features (pt_inception-2015-12-05), 299×299 bilinear, float64 statistics, composites vs the {count} ground-truth images"
        ),
        "LPIPS": perceptual.describe("LPIPS", f"v0.1, {lpips_trunk} trunk, mean over images, composites vs ground truth"),
        "sharpness": "the hole's mean gradient magnitude (3×3 Sobel of the luma) over the ground truth's, mean over images; "
        "1 is as detailed as the photo, a smooth fill is near 0",
        "seed": seed,
    }
    markdown, csv = report_table(scores, settings)
    with atomic_write(out / "report.md") as tmp:
        tmp.write_text(markdown)
    with atomic_write(out / "report.csv") as tmp:
        tmp.write_text(csv)
    return scores
