"""The StyleGAN2 residual discriminator with minibatch standard deviation, as stylegan2-ada-pytorch builds it."""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F
from torch import nn

from training.config import IMG_CHANNELS, GeneratorConfig
from training.mapping import FullyConnected
from training.ops import LRELU_GAIN, LRELU_SLOPE, depthwise_fir, fir_filter_2d

SKIP_GAIN = math.sqrt(0.5)


class Conv2dLayer(nn.Module):
    """Equalised-learning-rate conv; optional FIR-filtered 2× down-sampling, bias, lrelu·sqrt(2) and clamp."""

    def __init__(self, in_channels: int, out_channels: int, kernel_size: int, bias: bool = True,
                 activation: bool = True, down: bool = False, conv_clamp: float | None = None) -> None:
        super().__init__()
        self.weight = nn.Parameter(torch.randn(out_channels, in_channels, kernel_size, kernel_size))
        self.bias = nn.Parameter(torch.zeros(out_channels)) if bias else None
        self.weight_gain = 1.0 / math.sqrt(in_channels * kernel_size**2)
        self.activation = activation
        self.down = down
        self.conv_clamp = conv_clamp

    def forward(self, x: torch.Tensor, gain: float = 1.0) -> torch.Tensor:
        weight = (self.weight * self.weight_gain).to(x.dtype)
        kernel = weight.shape[-1]
        if not self.down:
            x = F.conv2d(x, weight, padding=kernel // 2)
        elif kernel == 1:
            x = F.conv2d(depthwise_fir(F.pad(x, [1, 1, 1, 1]), fir_filter_2d(1.0, x.dtype, x.device), stride=2), weight)
        else:
            x = F.conv2d(depthwise_fir(F.pad(x, [2, 2, 2, 2]), fir_filter_2d(1.0, x.dtype, x.device)), weight, stride=2)
        if self.bias is not None:
            x = x + self.bias.to(x.dtype).reshape(1, -1, 1, 1)
        act_gain = gain
        if self.activation:
            x = F.leaky_relu(x, LRELU_SLOPE)
            act_gain = gain * LRELU_GAIN
        if act_gain != 1:
            x = x * act_gain
        if self.conv_clamp is not None:
            x = x.clamp(-self.conv_clamp * gain, self.conv_clamp * gain)
        return x


class DiscriminatorBlock(nn.Module):
    """Residual block at resolution r: (fromrgb), conv0, down-sampling conv1, plus a 1×1 down-sampling skip."""

    def __init__(self, in_channels: int, tmp_channels: int, out_channels: int, conv_clamp: float | None) -> None:
        super().__init__()
        if in_channels == 0:
            self.fromrgb = Conv2dLayer(IMG_CHANNELS, tmp_channels, 1, conv_clamp=conv_clamp)
        self.conv0 = Conv2dLayer(tmp_channels, tmp_channels, 3, conv_clamp=conv_clamp)
        self.conv1 = Conv2dLayer(tmp_channels, out_channels, 3, down=True, conv_clamp=conv_clamp)
        self.skip = Conv2dLayer(tmp_channels, out_channels, 1, bias=False, activation=False, down=True)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if hasattr(self, "fromrgb"):
            x = self.fromrgb(x)
        y = self.skip(x, gain=SKIP_GAIN)
        x = self.conv1(self.conv0(x), gain=SKIP_GAIN)
        return y + x


def minibatch_stddev(x: torch.Tensor, group_size: int = 4) -> torch.Tensor:
    """Appends one channel: the mean over features of the std over each group of samples (groups interleave)."""
    n, c, h, w = x.shape
    group = min(group_size, n)
    if n % group:
        raise ValueError(f"batch {n} is not divisible by the minibatch-stddev group {group}")
    y = x.reshape(group, -1, c, h, w)
    y = (y - y.mean(dim=0)).square().mean(dim=0)
    y = (y + 1e-8).sqrt().mean(dim=[1, 2, 3])
    y = y.reshape(-1, 1, 1, 1).repeat(group, 1, h, w)
    return torch.cat([x, y], dim=1)


class DiscriminatorEpilogue(nn.Module):
    """The 4×4 head: minibatch stddev, 3×3 conv, dense layer and the single output logit."""

    def __init__(self, channels: int, conv_clamp: float | None) -> None:
        super().__init__()
        self.conv = Conv2dLayer(channels + 1, channels, 3, conv_clamp=conv_clamp)
        self.fc = FullyConnected(channels * 16, channels, activation=True)
        self.out = FullyConnected(channels, 1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = self.conv(minibatch_stddev(x))
        return self.out(self.fc(x.flatten(1)))


class Discriminator(nn.Module):
    """image [N, 3, R, R] → logit [N, 1]; channels follow the generator's C(r), times `width` (at least 1)."""

    def __init__(self, config: GeneratorConfig, width: float = 1.0) -> None:
        super().__init__()

        def channels(r: int) -> int:
            return max(1, round(config.channels(r) * width))

        self.resolutions = [r for r in reversed(config.block_resolutions) if r > 4]
        for r in self.resolutions:
            in_channels = 0 if r == config.img_resolution else channels(r)
            block = DiscriminatorBlock(in_channels, channels(r), channels(r // 2), config.conv_clamp)
            setattr(self, f"b{r}", block)
        self.b4 = DiscriminatorEpilogue(channels(4), config.conv_clamp)

    def forward(self, img: torch.Tensor) -> torch.Tensor:
        x = img
        for r in self.resolutions:
            x = getattr(self, f"b{r}")(x)
        return self.b4(x)
