"""The synthesis network ws → image with the skip architecture: layers, toRGB, blocks and their dataflow (docs/stylegan2.md §2)."""

from __future__ import annotations

import math

import torch
from torch import nn

from training.config import IMG_CHANNELS, GeneratorConfig
from training.mapping import FullyConnected
from training.ops import lrelu_gain, modulated_conv2d, upsample2d

NOISE_MODES = ("const", "random", "none")


class SynthesisLayer(nn.Module):
    """Modulated 3×3 conv (optionally up-sampling), noise, bias, lrelu·sqrt(2) and clamp (docs/stylegan2.md §2.4–§2.8)."""

    def __init__(self, in_channels: int, out_channels: int, w_dim: int, resolution: int, up: bool,
                 conv_clamp: float | None) -> None:
        super().__init__()
        self.up = up
        self.resolution = resolution
        self.conv_clamp = conv_clamp
        self.affine = FullyConnected(w_dim, in_channels, bias_init=1.0)
        self.weight = nn.Parameter(torch.randn(out_channels, in_channels, 3, 3))
        self.bias = nn.Parameter(torch.zeros(out_channels))
        self.noise_strength = nn.Parameter(torch.zeros([]))
        self.register_buffer("noise_const", torch.randn(resolution, resolution))

    def forward(self, x: torch.Tensor, w: torch.Tensor, noise_mode: str) -> torch.Tensor:
        styles = self.affine(w)
        x = modulated_conv2d(x, self.weight, styles, demodulate=True, up=self.up)
        if noise_mode == "const":
            x = x + self.noise_const.to(x.dtype) * self.noise_strength.to(x.dtype)
        elif noise_mode == "random":
            noise = torch.randn(x.shape[0], 1, self.resolution, self.resolution, dtype=x.dtype, device=x.device)
            x = x + noise * self.noise_strength.to(x.dtype)
        x = lrelu_gain(x + self.bias.to(x.dtype).reshape(1, -1, 1, 1))
        if self.conv_clamp is not None:
            x = x.clamp(-self.conv_clamp, self.conv_clamp)
        return x


class ToRGB(nn.Module):
    """1×1 modulated conv without demodulation, the 1/sqrt(C_in) gain on the styles, bias and clamp (docs/stylegan2.md §2.9)."""

    def __init__(self, in_channels: int, w_dim: int, conv_clamp: float | None) -> None:
        super().__init__()
        self.conv_clamp = conv_clamp
        self.affine = FullyConnected(w_dim, in_channels, bias_init=1.0)
        self.weight = nn.Parameter(torch.randn(IMG_CHANNELS, in_channels, 1, 1))
        self.bias = nn.Parameter(torch.zeros(IMG_CHANNELS))
        self.weight_gain = 1.0 / math.sqrt(in_channels)

    def forward(self, x: torch.Tensor, w: torch.Tensor) -> torch.Tensor:
        styles = self.affine(w) * self.weight_gain
        x = modulated_conv2d(x, self.weight, styles, demodulate=False)
        x = x + self.bias.to(x.dtype).reshape(1, -1, 1, 1)
        if self.conv_clamp is not None:
            x = x.clamp(-self.conv_clamp, self.conv_clamp)
        return x


class SynthesisBlock(nn.Module):
    """One resolution r: `const` (r = 4) or `conv0` (up-sampling), then `conv1` and `torgb` (docs/stylegan2.md §2.11)."""

    def __init__(self, resolution: int, in_channels: int, out_channels: int, w_dim: int,
                 conv_clamp: float | None) -> None:
        super().__init__()
        self.resolution = resolution
        if resolution == 4:
            self.const = nn.Parameter(torch.randn(out_channels, 4, 4))
        else:
            self.conv0 = SynthesisLayer(in_channels, out_channels, w_dim, resolution, up=True, conv_clamp=conv_clamp)
        self.conv1 = SynthesisLayer(out_channels, out_channels, w_dim, resolution, up=False, conv_clamp=conv_clamp)
        self.torgb = ToRGB(out_channels, w_dim, conv_clamp)

    @property
    def num_conv(self) -> int:
        return 1 if self.resolution == 4 else 2

    def forward(self, x: torch.Tensor | None, img: torch.Tensor | None, ws: torch.Tensor, noise_mode: str,
                record: dict[str, torch.Tensor] | None) -> tuple[torch.Tensor, torch.Tensor]:
        """ws holds this block's num_conv + 1 vectors: the convs' and torgb's (shared with the next conv0)."""
        name = f"act.b{self.resolution}"
        if self.resolution == 4:
            x = self.const.to(ws.dtype).unsqueeze(0).repeat(ws.shape[0], 1, 1, 1)
        else:
            x = self.conv0(x, ws[:, 0], noise_mode)
            if record is not None:
                record[f"{name}.conv0"] = x.detach().clone()
        x = self.conv1(x, ws[:, self.num_conv - 1], noise_mode)
        if record is not None:
            record[f"{name}.conv1"] = x.detach().clone()
        y = self.torgb(x, ws[:, self.num_conv])
        img = y if img is None else upsample2d(img) + y
        if record is not None:
            record[f"{name}.img"] = img.detach().clone()
        return x, img


class SynthesisNetwork(nn.Module):
    """ws [N, num_ws, w_dim] → image [N, 3, R, R]; blocks are named `b{r}`."""

    def __init__(self, config: GeneratorConfig) -> None:
        super().__init__()
        self.resolutions = config.block_resolutions
        for r in self.resolutions:
            in_channels = 0 if r == 4 else config.channels(r // 2)
            block = SynthesisBlock(r, in_channels, config.channels(r), config.w_dim, config.conv_clamp)
            setattr(self, f"b{r}", block)

    def forward(self, ws: torch.Tensor, noise_mode: str = "const",
                record: dict[str, torch.Tensor] | None = None) -> torch.Tensor:
        """Runs every block; when `record` is a dict it receives the activations `act.b{r}.{conv0,conv1,img}`."""
        if noise_mode not in NOISE_MODES:
            raise ValueError(f"noise_mode must be one of {NOISE_MODES}, got {noise_mode!r}")
        x = img = None
        w_index = 0
        for r in self.resolutions:
            block = getattr(self, f"b{r}")
            x, img = block(x, img, ws[:, w_index:w_index + block.num_conv + 1], noise_mode, record)
            w_index += block.num_conv
        return img
