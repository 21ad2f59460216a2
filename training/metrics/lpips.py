"""LPIPS v0.1 (Zhang et al. 2018): a learned perceptual distance between images, read from the standard weights files.

Our own definitions of the two trunks LPIPS uses, in torchvision's `features` layout so the standard
files load without torchvision: AlexNet (`alexnet-owt-7be5be79.pth`, taps relu1 … relu5) and VGG16
(`vgg16-397923af.pth`, taps relu1_2, relu2_2, relu3_3, relu4_3, relu5_3). The linear heads are the
LPIPS project's v0.1 files `alex.pth` / `vgg.pth` (keys `lin0.model.1.weight` … `lin4.model.1.weight`).

    d(x, y) = Σ_k mean_hw ‖ w_k ⊙ (f̂_k(x) − f̂_k(y)) ‖²

where f̂_k is the k-th tap normalised to unit length over channels and w_k the k-th head.
`load_lpips` reads the trunk from a path or the torch hub cache and the heads from a path or
`<torch hub dir>/lpips/v0.1/`; `download_lpips_trunk` fetches a trunk file with a network.
"""

from __future__ import annotations

import os
from pathlib import Path

import torch
from torch import Tensor, nn

from core.errors import InvertFillError
from training.vgg16 import HASH_PREFIX, LAYOUT, VGG16_FILE, VGG16_URL, vgg_layers
from training.weights_file import checked_subset, fetch_checked, read_state_dict

ALEXNET_FILE = "alexnet-owt-7be5be79.pth"
ALEXNET_URL = f"https://download.pytorch.org/models/{ALEXNET_FILE}"
HEADS_URL = "https://github.com/richzhang/PerceptualSimilarity/tree/master/lpips/weights/v0.1"
"""Where the LPIPS project publishes its v0.1 linear heads `alex.pth` and `vgg.pth`."""
TRUNK_FILES = {"alex": ALEXNET_FILE, "vgg": VGG16_FILE}
TRUNK_URLS = {"alex": ALEXNET_URL, "vgg": VGG16_URL}
TAP_CHANNELS = {"alex": (64, 192, 384, 256, 256), "vgg": (64, 128, 256, 512, 512)}
SCALING_SHIFT = (-0.030, -0.088, -0.188)
SCALING_SCALE = (0.458, 0.448, 0.450)
"""LPIPS's fixed input scaling: images in [-1, 1] -> (x - shift) / scale, ImageNet statistics rescaled to [-1, 1]."""
NORM_EPS = 1e-10
VGG16_LAYOUT: tuple[int | str, ...] = LAYOUT + (512, 512, 512, "pool", 512, 512, 512)
"""torchvision's VGG16 `features` up to relu5_3 (training.vgg16's layout to pool3, then blocks 4 and 5)."""
ALEXNET_TAPS = (1, 4, 7, 9, 11)
"""Indices in torchvision's `alexnet().features` of relu1 … relu5."""
VGG16_TAPS = (3, 8, 15, 22, 29)
"""Indices in torchvision's `vgg16().features` of relu1_2, relu2_2, relu3_3, relu4_3, relu5_3."""


class _FrozenTrunk(nn.Module):
    """A feature network that takes no gradient in its weights and stays in eval mode."""

    def freeze(self) -> None:
        self.requires_grad_(False)
        self.eval()

    def train(self, mode: bool = True) -> _FrozenTrunk:
        """Stays in eval mode whatever a containing module asks."""
        return super().train(False)


class AlexNetFeatures(_FrozenTrunk):
    """x (N, 3, H, W), already scaled -> [relu1 (N, 64, ·), relu2 (N, 192, ·), relu3 (N, 384, ·), relu4 (N, 256, ·), relu5 (N, 256, ·)].

    torchvision's `alexnet().features` up to relu5 (keys `features.0`, `.3`, `.6`, `.8`, `.10`);
    the spatial size after conv1 is (H + 4 - 11) // 4 + 1, then halved (floor, 3×3 pools) twice.
    """

    def __init__(self) -> None:
        super().__init__()
        self.features = nn.Sequential(
            nn.Conv2d(3, 64, kernel_size=11, stride=4, padding=2),
            nn.ReLU(),
            nn.MaxPool2d(kernel_size=3, stride=2),
            nn.Conv2d(64, 192, kernel_size=5, padding=2),
            nn.ReLU(),
            nn.MaxPool2d(kernel_size=3, stride=2),
            nn.Conv2d(192, 384, kernel_size=3, padding=1),
            nn.ReLU(),
            nn.Conv2d(384, 256, kernel_size=3, padding=1),
            nn.ReLU(),
            nn.Conv2d(256, 256, kernel_size=3, padding=1),
            nn.ReLU(),
        )
        self.freeze()

    def forward(self, x: Tensor) -> list[Tensor]:
        return _tap_outputs(self.features, ALEXNET_TAPS, x)


class VGG16ReluFeatures(_FrozenTrunk):
    """x (N, 3, H, W), already scaled -> [relu1_2 (N, 64, H, W), relu2_2 (N, 128, H/2, W/2), relu3_3 (N, 256, H/4, W/4),
    relu4_3 (N, 512, H/8, W/8), relu5_3 (N, 512, H/16, W/16)].

    torchvision's `vgg16().features` up to relu5_3 (keys `features.0` … `features.28`); the taps are
    the last ReLU of each block.
    """

    def __init__(self) -> None:
        super().__init__()
        self.features = vgg_layers(VGG16_LAYOUT)
        self.freeze()

    def forward(self, x: Tensor) -> list[Tensor]:
        return _tap_outputs(self.features, VGG16_TAPS, x)


def _tap_outputs(features: nn.Sequential, taps: tuple[int, ...], x: Tensor) -> list[Tensor]:
    """Run `features` as far as the last tap, keeping the outputs of the layers at the indices `taps`."""
    outputs = []
    for index, layer in enumerate(features[: taps[-1] + 1]):
        x = layer(x)
        if index in taps:
            outputs.append(x)
    return outputs


class LinearHead(nn.Module):
    """A tap's squared difference (N, C, h, w) -> (N, 1, h, w): a 1×1 conv with no bias.

    Slot 0 of `model` held the training-time dropout of the LPIPS project; it is the identity here,
    so the weight's key is `model.1.weight` as in their files.
    """

    def __init__(self, channels: int) -> None:
        super().__init__()
        self.model = nn.Sequential(nn.Identity(), nn.Conv2d(channels, 1, kernel_size=1, bias=False))

    def forward(self, x: Tensor) -> Tensor:
        return self.model(x)


def _unit_normalise(features: Tensor) -> Tensor:
    """(N, C, h, w) -> (N, C, h, w), each pixel's channel vector divided by its length (+ 1e-10)."""
    return features / (features.pow(2).sum(dim=1, keepdim=True).sqrt() + NORM_EPS)


class LPIPS(nn.Module):
    """(x, y) images (N, 3, H, W) in [-1, 1] -> (N,) LPIPS v0.1 distances (0 for identical images).

    `trunk` is "alex" or "vgg". Weights are random until loaded (see `load_lpips`). Frozen and always
    in eval mode: its weights take no gradient; gradients reach the inputs, so it also serves as a loss.
    """

    def __init__(self, trunk: str = "alex") -> None:
        super().__init__()
        if trunk not in TAP_CHANNELS:
            raise InvertFillError(f"unknown LPIPS trunk {trunk!r}; choose one of {', '.join(map(repr, TAP_CHANNELS))}")
        self.trunk = trunk
        self.net: _FrozenTrunk = AlexNetFeatures() if trunk == "alex" else VGG16ReluFeatures()
        for k, channels in enumerate(TAP_CHANNELS[trunk]):
            self.add_module(f"lin{k}", LinearHead(channels))
        self.register_buffer("shift", torch.tensor(SCALING_SHIFT).view(1, 3, 1, 1), persistent=False)
        self.register_buffer("scale", torch.tensor(SCALING_SCALE).view(1, 3, 1, 1), persistent=False)
        self.requires_grad_(False)
        self.eval()

    @property
    def heads(self) -> list[LinearHead]:
        return [getattr(self, f"lin{k}") for k in range(len(TAP_CHANNELS[self.trunk]))]

    def train(self, mode: bool = True) -> LPIPS:
        """Stays in eval mode whatever a containing module asks."""
        return super().train(False)

    def _taps(self, images: Tensor) -> list[Tensor]:
        scaled = (images - self.shift.to(images.dtype)) / self.scale.to(images.dtype)
        return [_unit_normalise(tap) for tap in self.net(scaled)]

    def forward(self, x: Tensor, y: Tensor) -> Tensor:
        assert x.ndim == 4 and x.shape[1] == 3 and x.shape == y.shape, (tuple(x.shape), tuple(y.shape))
        distance = x.new_zeros(x.shape[0])
        for head, tap_x, tap_y in zip(self.heads, self._taps(x), self._taps(y), strict=True):
            distance = distance + head((tap_x - tap_y).pow(2)).mean(dim=(1, 2, 3))
        return distance


def default_trunk_path(trunk: str = "alex") -> Path:
    """Where torchvision keeps the trunk file: `torch.hub.get_dir()/checkpoints/<file>`."""
    return Path(torch.hub.get_dir()) / "checkpoints" / TRUNK_FILES[trunk]


def default_heads_path(trunk: str = "alex") -> Path:
    """Where we look for the LPIPS v0.1 heads by default: `torch.hub.get_dir()/lpips/v0.1/<trunk>.pth`."""
    return Path(torch.hub.get_dir()) / "lpips" / "v0.1" / f"{trunk}.pth"


def load_lpips(
    trunk: str = "alex",
    trunk_path: str | os.PathLike[str] | None = None,
    heads_path: str | os.PathLike[str] | None = None,
) -> LPIPS:
    """LPIPS with torchvision's trunk weights and the LPIPS project's v0.1 heads.

    trunk: "alex" (alexnet-owt-7be5be79.pth) or "vgg" (vgg16-397923af.pth); trunk_path defaults to
    the torch hub cache, heads_path to `default_heads_path(trunk)`. Both files are read with
    `weights_only=True`, and only the keys the model uses are taken; a missing file, a refused or
    unreadable pickle, or a missing or mis-shaped key is an InvertFillError.
    """
    model = LPIPS(trunk)
    trunk_file = Path(trunk_path) if trunk_path is not None else default_trunk_path(trunk)
    heads_file = Path(heads_path) if heads_path is not None else default_heads_path(trunk)
    trunk_state = read_state_dict(
        trunk_file,
        f"the weights file {trunk_file.name} was not found at {trunk_file}; put torchvision's {TRUNK_FILES[trunk]} there, "
        f"or run training.metrics.lpips.download_lpips_trunk({trunk!r}) on a machine with a network",
    )
    heads_state = read_state_dict(
        heads_file,
        f"the weights file {heads_file.name} was not found at {heads_file}; put the LPIPS v0.1 head file {trunk}.pth from {HEADS_URL} there",
    )
    trunk_name = "torchvision's AlexNet" if trunk == "alex" else "torchvision's VGG16"
    model.net.load_state_dict(checked_subset(trunk_state, model.net.state_dict(), trunk_file, trunk_name))
    wanted_heads = {
        f"lin{k}.{key}": value for k, head in enumerate(model.heads) for key, value in head.state_dict().items()
    }
    heads = checked_subset(heads_state, wanted_heads, heads_file, f"an LPIPS v0.1 {trunk} head file")
    for k, head in enumerate(model.heads):
        head.load_state_dict({"model.1.weight": heads[f"lin{k}.model.1.weight"]})
    return model


def download_lpips_trunk(trunk: str = "alex", destination: str | os.PathLike[str] | None = None) -> Path:
    """Fetch torchvision's trunk file (needs a network) to `destination` (default: the hub cache) -> its path.

    The heads have no published hash; fetch `alex.pth` / `vgg.pth` from HEADS_URL by hand.
    """
    if trunk not in TRUNK_FILES:
        raise InvertFillError(f"unknown LPIPS trunk {trunk!r}; choose one of {', '.join(map(repr, TRUNK_FILES))}")
    destination = Path(destination) if destination is not None else default_trunk_path(trunk)
    match = HASH_PREFIX.search(TRUNK_FILES[trunk])
    assert match is not None, TRUNK_FILES[trunk]
    return fetch_checked(TRUNK_URLS[trunk], destination, match.group(1))
