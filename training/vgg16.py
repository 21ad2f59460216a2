"""VGG16 features for the perceptual and style losses, with torchvision's weight file layout.

Our own definition of torchvision's `vgg16().features` up to pool3 (keys `features.0` …
`features.14`), loading the standard `vgg16-397923af.pth` from a path or the torch hub cache;
`download_vgg16` fetches it on a machine with a network, checking its SHA-256 prefix.
"""

from __future__ import annotations

import hashlib
import os
import tempfile
import urllib.request
from pathlib import Path

import torch
from torch import Tensor, nn

from core.errors import InvertFillError

VGG16_FILE = "vgg16-397923af.pth"
VGG16_URL = f"https://download.pytorch.org/models/{VGG16_FILE}"
LAYERS = [64, 64, "pool", 128, 128, "pool", 256, 256, 256, "pool"]
"""Conv widths up to pool3, as in torchvision's `features`: conv, ReLU … with max-pools."""
IMAGENET_MEAN = (0.485, 0.456, 0.406)
IMAGENET_STD = (0.229, 0.224, 0.225)


class VGG16Features(nn.Module):
    """images (N, 3, H, W) in [-1, 1] -> [pool1 (N, 64, H/2, W/2), pool2 (N, 128, H/4, W/4), pool3 (N, 256, H/8, W/8)].

    Frozen: its weights take no gradient; gradients reach the input.
    """

    def __init__(self) -> None:
        super().__init__()
        layers: list[nn.Module] = []
        channels = 3
        for item in LAYERS:
            if item == "pool":
                layers.append(nn.MaxPool2d(2, 2))
            else:
                layers += [nn.Conv2d(channels, item, 3, padding=1), nn.ReLU(inplace=False)]
                channels = item
        self.features = nn.Sequential(*layers)
        self.register_buffer("mean", torch.tensor(IMAGENET_MEAN).view(1, 3, 1, 1), persistent=False)
        self.register_buffer("std", torch.tensor(IMAGENET_STD).view(1, 3, 1, 1), persistent=False)
        self.requires_grad_(False)
        self.eval()

    def forward(self, images: Tensor) -> list[Tensor]:
        x = ((images + 1) / 2 - self.mean.to(images.dtype)) / self.std.to(images.dtype)
        outputs = []
        for layer in self.features:
            x = layer(x)
            if isinstance(layer, nn.MaxPool2d):
                outputs.append(x)
        return outputs


def default_vgg16_path() -> Path:
    """Where torchvision keeps the file: the torch hub cache's checkpoints folder."""
    return Path(torch.hub.get_dir()) / "checkpoints" / VGG16_FILE


def load_vgg16(path: str | os.PathLike[str] | None = None) -> VGG16Features:
    """VGG16 features with the weights of a torchvision-format file (read with weights_only=True)."""
    path = Path(path) if path is not None else default_vgg16_path()
    if not path.is_file():
        raise InvertFillError(
            f"the VGG16 weights {path.name} were not found at {path}; put torchvision's {VGG16_FILE} there "
            "(or pass its path), or run training.vgg16.download_vgg16() on a machine with a network"
        )
    try:
        state = torch.load(path, map_location="cpu", weights_only=True)
    except Exception as error:
        raise InvertFillError(f"{path.name} is not a readable weights file: {str(error).splitlines()[0]}") from None
    model = VGG16Features()
    wanted = model.state_dict()
    if not isinstance(state, dict):
        raise InvertFillError(f"{path.name} does not hold a state dict")
    for key, tensor in wanted.items():
        if key not in state or tuple(state[key].shape) != tuple(tensor.shape):
            raise InvertFillError(f"{path.name} is not torchvision's VGG16: {key!r} is missing or has another shape")
    model.load_state_dict({key: state[key] for key in wanted})
    return model


def download_vgg16(destination: str | os.PathLike[str] | None = None) -> Path:
    """Fetch torchvision's VGG16 file, check that its SHA-256 starts with the name's hash, and move it in place."""
    destination = Path(destination) if destination is not None else default_vgg16_path()
    destination.parent.mkdir(parents=True, exist_ok=True)
    expected = VGG16_FILE.split("-")[1].split(".")[0]
    fd, tmp_name = tempfile.mkstemp(dir=destination.parent, suffix=".part")
    digest = hashlib.sha256()
    try:
        with os.fdopen(fd, "wb") as out, urllib.request.urlopen(VGG16_URL) as response:
            while chunk := response.read(1 << 20):
                digest.update(chunk)
                out.write(chunk)
        if not digest.hexdigest().startswith(expected):
            raise InvertFillError(f"the downloaded {VGG16_FILE} has the wrong checksum ({digest.hexdigest()[:8]}); not kept")
        os.replace(tmp_name, destination)
    finally:
        Path(tmp_name).unlink(missing_ok=True)
    return destination
