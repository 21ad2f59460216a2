"""VGG16 features (pool1–pool3) for the perceptual and style losses, read from torchvision's weights file.

Our own definition of the first 17 layers of torchvision's `vgg16().features` (conv1_1 … pool3,
state-dict keys `features.0.*` … `features.14.*`), so the standard `vgg16-397923af.pth` loads
without depending on torchvision. `load_vgg16` reads it from a path or the torch hub cache;
`download_vgg16` fetches it on a machine with a network and checks its SHA-256 prefix.
"""

from __future__ import annotations

import os
import re
from pathlib import Path

import torch
from torch import Tensor, nn

from .weights_file import checked_subset, fetch_checked, read_state_dict

VGG16_FILE = "vgg16-397923af.pth"
VGG16_URL = f"https://download.pytorch.org/models/{VGG16_FILE}"
LAYOUT: tuple[int | str, ...] = (64, 64, "pool", 128, 128, "pool", 256, 256, 256, "pool")
"""torchvision's VGG16 `features` up to pool3: each number is a 3×3 conv + ReLU of that width."""
IMAGENET_MEAN = (0.485, 0.456, 0.406)
IMAGENET_STD = (0.229, 0.224, 0.225)
HASH_PREFIX = re.compile(r"-([a-f0-9]{8,})\.")
"""torchvision's file-name convention: `name-<first hex digits of the SHA-256>.pth`."""


def vgg_layers(layout: tuple[int | str, ...]) -> nn.Sequential:
    """torchvision's VGG `features` layers for a layout of conv widths and "pool": conv, ReLU, …, max-pool."""
    layers: list[nn.Module] = []
    channels = 3
    for width in layout:
        if width == "pool":
            layers.append(nn.MaxPool2d(kernel_size=2, stride=2))
        else:
            layers += [nn.Conv2d(channels, int(width), kernel_size=3, padding=1), nn.ReLU()]
            channels = int(width)
    return nn.Sequential(*layers)


class VGG16Features(nn.Module):
    """images (N, 3, H, W) in [-1, 1] -> [pool1 (N, 64, H/2, W/2), pool2 (N, 128, H/4, W/4), pool3 (N, 256, H/8, W/8)].

    Converts to [0, 1] and normalises with the ImageNet mean/std inside. Frozen and always in
    eval mode: its weights take no gradient; gradients reach the input.
    """

    def __init__(self) -> None:
        super().__init__()
        self.features = vgg_layers(LAYOUT)
        self.register_buffer("mean", torch.tensor(IMAGENET_MEAN).view(1, 3, 1, 1), persistent=False)
        self.register_buffer("std", torch.tensor(IMAGENET_STD).view(1, 3, 1, 1), persistent=False)
        self.requires_grad_(False)
        self.eval()

    def train(self, mode: bool = True) -> VGG16Features:
        """Stays in eval mode whatever a containing module asks."""
        return super().train(False)

    def forward(self, images: Tensor) -> list[Tensor]:
        assert images.ndim == 4 and images.shape[1] == 3, tuple(images.shape)
        x = ((images + 1) / 2 - self.mean.to(images.dtype)) / self.std.to(images.dtype)
        pooled = []
        for layer in self.features:
            x = layer(x)
            if isinstance(layer, nn.MaxPool2d):
                pooled.append(x)
        return pooled


def default_vgg16_path() -> Path:
    """Where torchvision keeps the file: `torch.hub.get_dir()/checkpoints/vgg16-397923af.pth`."""
    return Path(torch.hub.get_dir()) / "checkpoints" / VGG16_FILE


def load_vgg16(path: str | os.PathLike[str] | None = None) -> VGG16Features:
    """VGG16Features with the weights of a torchvision-format state dict (default: the hub cache).

    Reads with `weights_only=True` and keeps only the `features.N.*` keys it defines; a missing
    file, a refused or unreadable pickle, or a missing or mis-shaped key is an InvertFillError.
    """
    path = Path(path) if path is not None else default_vgg16_path()
    state = read_state_dict(
        path,
        f"the VGG16 weights {path.name} were not found at {path}; put torchvision's {VGG16_FILE} there, "
        "or run training.vgg16.download_vgg16() on a machine with a network to fetch it into the torch hub cache",
    )
    model = VGG16Features()
    model.load_state_dict(checked_subset(state, model.state_dict(), path, "torchvision's VGG16"))
    return model


def download_vgg16(destination: str | os.PathLike[str] | None = None) -> Path:
    """Fetch torchvision's VGG16 file (needs a network) to `destination` (default: the hub cache) -> its path."""
    destination = Path(destination) if destination is not None else default_vgg16_path()
    match = HASH_PREFIX.search(VGG16_FILE)
    assert match is not None, VGG16_FILE
    return fetch_checked(VGG16_URL, destination, match.group(1))
