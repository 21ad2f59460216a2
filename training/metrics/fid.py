"""Fréchet Inception Distance (Heusel et al. 2017) between two sets of Inception pool features.

FID = ‖μ1 − μ2‖² + tr(Σ1) + tr(Σ2) − 2 tr((Σ1 Σ2)^½). The trace of the matrix square root is
taken without scipy: Σ1 Σ2 is similar to the symmetric PSD matrix Σ1^½ Σ2 Σ1^½, so
tr((Σ1 Σ2)^½) is the sum of the square roots of that matrix's eigenvalues (`numpy.linalg.eigh`,
tiny negative eigenvalues from round-off clipped to 0). Statistics of a fixed image set (the
real images) are cached as `.npz` files keyed by a hash of the image list.
"""

from __future__ import annotations

import hashlib
import zipfile
from collections.abc import Callable, Iterable
from pathlib import Path

import numpy as np
import torch
from torch import Tensor, nn

from core.errors import InvertFillError
from core.io.atomic_write import atomic_write


def feature_statistics(features: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """features (N, D) -> mean (D,) and sample covariance (D, D), both float64."""
    features = np.asarray(features, dtype=np.float64)
    if features.ndim != 2:
        raise InvertFillError(f"FID features must be an (N, D) array, got shape {features.shape}")
    if features.shape[0] < 2:
        raise InvertFillError(f"FID needs at least 2 images per set, got {features.shape[0]}")
    return features.mean(axis=0), np.cov(features, rowvar=False)


def _symmetric_sqrt(matrix: np.ndarray) -> np.ndarray:
    """Square root of a symmetric PSD (D, D) matrix; round-off negatives in its spectrum become 0."""
    eigenvalues, eigenvectors = np.linalg.eigh((matrix + matrix.T) / 2)
    return (eigenvectors * np.sqrt(np.clip(eigenvalues, 0.0, None))) @ eigenvectors.T


def frechet_distance(mu1: np.ndarray, sigma1: np.ndarray, mu2: np.ndarray, sigma2: np.ndarray) -> float:
    """Fréchet distance between N(mu1, sigma1) and N(mu2, sigma2): mu (D,), sigma (D, D) -> float ≥ 0."""
    mu1, mu2 = np.atleast_1d(np.asarray(mu1, np.float64)), np.atleast_1d(np.asarray(mu2, np.float64))
    sigma1, sigma2 = np.atleast_2d(np.asarray(sigma1, np.float64)), np.atleast_2d(np.asarray(sigma2, np.float64))
    dim = mu1.shape[0]
    if mu1.shape != (dim,) or mu2.shape != (dim,) or sigma1.shape != (dim, dim) or sigma2.shape != (dim, dim):
        raise InvertFillError(
            f"FID statistics do not match: means {mu1.shape} and {mu2.shape}, covariances {sigma1.shape} and {sigma2.shape}"
        )
    for name, value in (("mu1", mu1), ("sigma1", sigma1), ("mu2", mu2), ("sigma2", sigma2)):
        if not np.all(np.isfinite(value)):
            raise InvertFillError(f"FID statistic {name} holds NaN or infinite values")
    root1 = _symmetric_sqrt(sigma1)
    product = root1 @ sigma2 @ root1
    eigenvalues = np.linalg.eigvalsh((product + product.T) / 2)
    trace_sqrt = float(np.sqrt(np.clip(eigenvalues, 0.0, None)).sum())
    difference = mu1 - mu2
    distance = float(difference @ difference) + float(np.trace(sigma1)) + float(np.trace(sigma2)) - 2.0 * trace_sqrt
    return max(distance, 0.0)


def compute_features(model: nn.Module, images_iter: Iterable[Tensor], device: torch.device | str) -> np.ndarray:
    """Batches (B, 3, H, W) in [-1, 1] through `model` (e.g. FIDInception) -> features (N, D) float32."""
    model = model.to(device).eval()
    batches: list[np.ndarray] = []
    with torch.no_grad():
        for images in images_iter:
            features = model(images.to(device, torch.float32))
            assert features.ndim == 2, tuple(features.shape)
            batches.append(features.float().cpu().numpy())
    if not batches:
        raise InvertFillError("FID got no images to compute features of")
    return np.concatenate(batches, axis=0)


def statistics_cache_path(key: str, cache_dir: Path) -> Path:
    """`cache_dir/fid-<first 16 hex digits of SHA-256(key)>.npz`."""
    return Path(cache_dir) / f"fid-{hashlib.sha256(key.encode('utf-8')).hexdigest()[:16]}.npz"


def cached_statistics(
    key: str, cache_dir: Path, compute: Callable[[], tuple[np.ndarray, np.ndarray]]
) -> tuple[np.ndarray, np.ndarray]:
    """(mu, sigma) stored for `key` (e.g. the image list) in `cache_dir`, else `compute()`, saved atomically.

    The file also holds the key itself; a file whose key differs, or that cannot be read, is
    recomputed and replaced.
    """
    path = statistics_cache_path(key, cache_dir)
    if path.is_file():
        try:
            with np.load(path, allow_pickle=False) as stored:
                if str(stored["key"]) == key:
                    return stored["mu"].astype(np.float64), stored["sigma"].astype(np.float64)
        except (OSError, ValueError, KeyError, EOFError, zipfile.BadZipFile):
            pass
    mu, sigma = compute()
    mu, sigma = np.asarray(mu, np.float64), np.asarray(sigma, np.float64)
    path.parent.mkdir(parents=True, exist_ok=True)
    with atomic_write(path) as tmp, open(tmp, "wb") as out:
        np.savez(out, key=np.array(key), mu=mu, sigma=sigma)
    return mu, sigma
