"""Adaptive discriminator augmentation (Karras et al. 2020, "Training GANs with Limited Data").

`AdaptiveAugment` is ADA's "bgc" pipeline: every transformation is applied to each image
independently with probability p, to real and generated images alike before the discriminator,
and it is differentiable so the generator trains through it. The geometric transformations
compose into one 3×3 matrix per image and resample once; the color transformations compose
into one 4×4 matrix per image. `AugmentController` moves p so that the discriminator's
overconfidence on reals, r_t = E[sign(D(real))], stays near a target.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence

import torch
import torch.nn.functional as F
from torch import Tensor, nn

# Lognormal factors are exp(N(0, std²)); translations are fractions of the image size.
LN2 = math.log(2)
SCALE_STD = 0.2 * LN2
ANISOTROPIC_STD = 0.2 * LN2
INTEGER_TRANSLATE_MAX = 0.125
FRACTION_TRANSLATE_STD = 0.125
BRIGHTNESS_STD = 0.2
CONTRAST_STD = 0.5 * LN2
SATURATION_STD = LN2
P_MAX = 1.0 - 2.0**-24  # the largest float32 below 1


def _matrix(like: Tensor, rows: Sequence[Sequence[Tensor | float]]) -> Tensor:
    """like: (N,); rows of (N,) tensors or numbers -> (N, len(rows), len(rows[0]))."""
    entries = [[e if isinstance(e, Tensor) else torch.full_like(like, e) for e in row] for row in rows]
    return torch.stack([torch.stack(row, dim=-1) for row in entries], dim=-2)


def _gate(value: Tensor, identity: float, p: float, generator: torch.Generator | None = None) -> Tensor:
    """value: (N, ...) -> (N, ...), each value[i] kept with probability p, else set to `identity`."""
    keep = torch.rand(value.shape[0], generator=generator, device=value.device) < p
    return torch.where(keep.view(-1, *[1] * (value.ndim - 1)), value, torch.full_like(value, identity))


def _lognormal(n: int, std: float, p: float, device: torch.device, generator: torch.Generator | None = None) -> Tensor:
    """(N,) factors exp(N(0, std²)), each 1 with probability 1 - p."""
    return _gate(torch.randn(n, generator=generator, device=device) * std, 0.0, p, generator).exp()


def _uniform_angle(n: int, device: torch.device, generator: torch.Generator | None = None) -> Tensor:
    """(N,) angles uniform in [-π, π)."""
    return (torch.rand(n, generator=generator, device=device) * 2 - 1) * math.pi


def _translate2d(tx: Tensor, ty: Tensor) -> Tensor:
    return _matrix(tx, [[1, 0, tx], [0, 1, ty], [0, 0, 1]])


def _scale2d(sx: Tensor, sy: Tensor) -> Tensor:
    return _matrix(sx, [[sx, 0, 0], [0, sy, 0], [0, 0, 1]])


def _rotate2d(cos: Tensor, sin: Tensor) -> Tensor:
    return _matrix(cos, [[cos, -sin, 0], [sin, cos, 0], [0, 0, 1]])


def _rotate2d_angle(angle: Tensor) -> Tensor:
    return _rotate2d(angle.cos(), angle.sin())


def _rotate2d_quarter_turns(k: Tensor) -> Tensor:
    """k: (N,) in {0, 1, 2, 3} -> (N, 3, 3) exact rotations by k·90°."""
    return _rotate2d((1 - k % 2) * (1 - k), (k % 2) * (2 - k))


def sample_geometric_matrices(
    n: int, height: int, width: int, p: float, device: torch.device, generator: torch.Generator | None = None
) -> Tensor:
    """-> (n, 3, 3) float32 maps from output to input pixel coordinates, centred on the image.

    In order: x-flip, 90° rotation, integer translation, isotropic scaling, rotation,
    anisotropic scaling, rotation, fractional translation. Each distribution is symmetric, so
    the inverse of each transformation is drawn directly. The arbitrary rotation happens
    before and after the anisotropic scaling, each with probability 1 - √(1 - p), so that an
    image is rotated with probability p and stretched along any axis. An image whose every
    transformation was skipped gets the identity exactly. Everything is drawn from `generator`.
    """
    g = generator
    size = torch.tensor([width, height], dtype=torch.float32, device=device)
    flip = _gate(torch.randint(2, (n,), generator=g, device=device).float(), 0.0, p, g)
    matrix = _scale2d(1 - 2 * flip, torch.ones_like(flip))
    quarter_turns = _gate(torch.randint(4, (n,), generator=g, device=device).float(), 0.0, p, g)
    matrix = matrix @ _rotate2d_quarter_turns(quarter_turns)
    shift = ((torch.rand(n, 2, generator=g, device=device) * 2 - 1) * INTEGER_TRANSLATE_MAX * size).round()
    shift = _gate(shift, 0.0, p, g)
    matrix = matrix @ _translate2d(shift[:, 0], shift[:, 1])
    scale = _lognormal(n, SCALE_STD, p, device, g)
    matrix = matrix @ _scale2d(scale, scale)
    p_rotate = 1 - math.sqrt(max(1 - p, 0.0))
    matrix = matrix @ _rotate2d_angle(_gate(_uniform_angle(n, device, g), 0.0, p_rotate, g))
    stretch = _lognormal(n, ANISOTROPIC_STD, p, device, g)
    matrix = matrix @ _scale2d(stretch, 1 / stretch)
    matrix = matrix @ _rotate2d_angle(_gate(_uniform_angle(n, device, g), 0.0, p_rotate, g))
    shift = _gate(torch.randn(n, 2, generator=g, device=device) * FRACTION_TRANSLATE_STD * size, 0.0, p, g)
    return matrix @ _translate2d(shift[:, 0], shift[:, 1])


def warp(images: Tensor, matrix: Tensor) -> Tensor:
    """images: (N, C, H, W), matrix: (N, 3, 3) output -> input pixel coordinates -> (N, C, H, W).

    Bilinear resampling with reflected borders; pixel coordinates are centred on the image,
    with x to the right and y down, so an integer translation moves whole pixels.
    """
    n, _, h, w = images.shape
    assert matrix.shape == (n, 3, 3), (tuple(matrix.shape), n)
    to_pixels = torch.diag(torch.tensor([w / 2, h / 2, 1.0], dtype=matrix.dtype, device=matrix.device))
    to_normalized = torch.diag(torch.tensor([2 / w, 2 / h, 1.0], dtype=matrix.dtype, device=matrix.device))
    theta = (to_normalized @ matrix @ to_pixels)[:, :2].to(images.dtype)
    grid = F.affine_grid(theta, list(images.shape), align_corners=False)
    return F.grid_sample(images, grid, mode="bilinear", padding_mode="reflection", align_corners=False)


def sample_color_matrices(n: int, p: float, device: torch.device, generator: torch.Generator | None = None) -> Tensor:
    """-> (n, 4, 4) float32 maps of homogeneous RGB in [-1, 1] (mid-gray at 0).

    In order: brightness, contrast, luma flip, hue rotation around the luma axis v = (1, 1, 1)/√3
    (Rodrigues: I + sin θ·[v]ₓ + (1 - cos θ)·(vvᵀ - I)), saturation (scaling away from the
    luma axis). An image whose every transformation was skipped gets the identity exactly.
    Everything is drawn from `generator`.
    """
    g = generator
    eye = torch.eye(4, device=device)
    rgb = torch.diag(torch.tensor([1.0, 1.0, 1.0, 0.0], device=device))
    luma = rgb.diagonal() / math.sqrt(3)
    luma_projection = torch.outer(luma, luma)
    luma_cross = torch.tensor([[0.0, -1, 1, 0], [1, 0, -1, 0], [-1, 1, 0, 0], [0, 0, 0, 0]], device=device)
    luma_cross = luma_cross / math.sqrt(3)
    b = _gate(torch.randn(n, generator=g, device=device) * BRIGHTNESS_STD, 0.0, p, g)
    matrix = _matrix(b, [[1, 0, 0, b], [0, 1, 0, b], [0, 0, 1, b], [0, 0, 0, 1]])
    c = _lognormal(n, CONTRAST_STD, p, device, g)
    matrix = _matrix(c, [[c, 0, 0, 0], [0, c, 0, 0], [0, 0, c, 0], [0, 0, 0, 1]]) @ matrix
    flip = _gate(torch.randint(2, (n,), generator=g, device=device).float(), 0.0, p, g)[:, None, None]
    matrix = (eye - 2 * flip * luma_projection) @ matrix
    hue = _gate(_uniform_angle(n, device, g), 0.0, p, g)[:, None, None]
    matrix = (eye + hue.sin() * luma_cross + (1 - hue.cos()) * (luma_projection - rgb)) @ matrix
    saturation = _lognormal(n, SATURATION_STD, p, device, g)[:, None, None]
    return (eye + (saturation - 1) * (rgb - luma_projection)) @ matrix


def apply_color(images: Tensor, matrix: Tensor) -> Tensor:
    """images: (N, 3, H, W), matrix: (N, 4, 4) -> (N, 3, H, W)."""
    n, c, h, w = images.shape
    assert c == 3 and matrix.shape == (n, 4, 4), (tuple(images.shape), tuple(matrix.shape))
    matrix = matrix.to(images.dtype)
    rgb = matrix[:, :3, :3] @ images.reshape(n, 3, h * w) + matrix[:, :3, 3:]
    return rgb.reshape(n, 3, h, w)


def _is_identity(matrix: Tensor) -> Tensor:
    """matrix: (N, K, K) -> (N,) bool, exactly the identity."""
    return (matrix == torch.eye(matrix.shape[-1], device=matrix.device)).flatten(1).all(dim=1)


class AdaptiveAugment(nn.Module):
    """ADA's "bgc" pipeline with probability `p` (a buffer, so it travels with the state_dict).

    images: (N, 3, H, W) float in [-1, 1] -> (N, 3, H, W), same dtype. The random draws come from
    the `generator` passed to forward (on the images' device); the work runs in fp32 even under
    autocast, and images whose transformations were all skipped come out exactly as they went in.
    """

    p: Tensor

    def __init__(self, p: float = 0.0, geometric: bool = True, color: bool = True) -> None:
        super().__init__()
        assert 0.0 <= p <= 1.0, p
        self.register_buffer("p", torch.tensor(float(p)))
        self.geometric = geometric
        self.color = color

    def extra_repr(self) -> str:
        return f"p={float(self.p):.4f}, geometric={self.geometric}, color={self.color}"

    def forward(self, images: Tensor, generator: torch.Generator | None = None) -> Tensor:
        n, c, h, w = images.shape
        assert c == 3, tuple(images.shape)
        p = float(self.p)
        if p == 0.0 or not (self.geometric or self.color):
            return images
        with torch.autocast(images.device.type, enabled=False):
            x = images.to(torch.promote_types(images.dtype, torch.float32))
            if self.geometric:
                matrix = sample_geometric_matrices(n, h, w, p, images.device, generator)
                x = self._apply_where_changed(x, matrix, warp)
            if self.color:
                matrix = sample_color_matrices(n, p, images.device, generator)
                x = self._apply_where_changed(x, matrix, apply_color)
        return x.to(images.dtype)

    @staticmethod
    def _apply_where_changed(x: Tensor, matrix: Tensor, transform: Callable[[Tensor, Tensor], Tensor]) -> Tensor:
        """transform(x, matrix) for the images whose matrix is not the identity; x: (N, C, H, W)."""
        unchanged = _is_identity(matrix)
        if bool(unchanged.all()):
            return x
        return torch.where(unchanged[:, None, None, None], x, transform(x, matrix))


class AugmentController:
    """Moves `AdaptiveAugment.p` so that r_t = E[sign(D(real))] stays near `target`.

    Every `interval` steps p changes by sign(r_t - target) · (images seen) / `adjust_images`,
    so it can go from 0 to 1 in `adjust_images` images; it stays in [0, 1). The sign sums stay
    on the logits' device until `update`, which syncs once per interval.
    """

    def __init__(self, target: float = 0.6, interval: int = 4, adjust_images: int = 500_000) -> None:
        assert interval >= 1 and adjust_images > 0, (interval, adjust_images)
        self.target = target
        self.interval = interval
        self.adjust_images = adjust_images
        self._sign_sum: Tensor | float = 0.0
        self._count = 0.0

    def accumulate(self, real_logits: Tensor) -> None:
        """real_logits: (N, ...) the discriminator's outputs on (augmented) reals."""
        self._sign_sum = self._sign_sum + real_logits.detach().float().sign().sum()
        self._count += real_logits.numel()

    def update(
        self,
        augment: AdaptiveAugment,
        step: int,
        images_per_step: int,
        reduce: Callable[[Tensor], Tensor] | None = None,
    ) -> float | None:
        """On steps that are multiples of `interval`: adjust `augment.p` in place and return r_t.

        step: training steps done so far; images_per_step: images the discriminator saw per
        step over all ranks; reduce: sums the (2,) tensor [sign_sum, count] over ranks. Every
        rank calls `reduce` on the same steps, even with nothing accumulated. Returns None on
        other steps and when no rank accumulated anything.
        """
        if step % self.interval != 0:
            return None
        sign_sum = torch.as_tensor(self._sign_sum, dtype=torch.float32, device=augment.p.device)
        stats = torch.stack([sign_sum, torch.full_like(sign_sum, self._count)])
        if reduce is not None:
            stats = reduce(stats)
        total_sign, count = stats.tolist()
        self._sign_sum, self._count = 0.0, 0.0
        if count == 0:
            return None
        r_t = total_sign / count
        direction = (r_t > self.target) - (r_t < self.target)
        adjust = direction * self.interval * images_per_step / self.adjust_images
        augment.p.fill_(min(max(float(augment.p) + adjust, 0.0), P_MAX))
        return r_t

    def state_dict(self) -> dict[str, float]:
        return {"sign_sum": float(self._sign_sum), "count": self._count}

    def load_state_dict(self, state: dict[str, float]) -> None:
        self._sign_sum = float(state["sign_sum"])
        self._count = float(state["count"])


def augment_probability(augment: AdaptiveAugment | None) -> dict[str, float]:
    """A GAN run's tick value: {"augment_p": p} with augmentation, {} without."""
    return {"augment_p": float(augment.p)} if augment is not None else {}
