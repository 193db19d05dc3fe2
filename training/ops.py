"""The generator's tensor operations: activation, 2nd-moment normalisation, FIR resampling and modulated convolution (docs/stylegan2.md §1.1, §2.4–§2.10)."""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F

LRELU_SLOPE = 0.2
LRELU_GAIN = math.sqrt(2.0)
DEMODULATION_EPSILON = 1e-8
NORMALIZE_EPSILON = 1e-8
FIR_TAPS = (1.0, 3.0, 3.0, 1.0)


def lrelu_gain(x: torch.Tensor) -> torch.Tensor:
    """lrelu with slope 0.2, then multiplied by the fixed gain sqrt(2)."""
    return F.leaky_relu(x, LRELU_SLOPE) * LRELU_GAIN


def normalize_2nd_moment(x: torch.Tensor) -> torch.Tensor:
    """x / sqrt(mean(x²) + 1e-8) over the feature axis (docs/stylegan2.md §1.1)."""
    return x * (x.square().mean(dim=1, keepdim=True) + NORMALIZE_EPSILON).rsqrt()


def fir_filter_2d(gain: float, dtype: torch.dtype, device: torch.device | str) -> torch.Tensor:
    """outer([1,3,3,1], [1,3,3,1]) / 64 · gain, as a [4, 4] tensor (gain 4 gives the up-sampling filter g)."""
    taps = torch.tensor(FIR_TAPS, dtype=torch.float64)
    kernel = torch.outer(taps, taps) / taps.sum() ** 2 * gain
    return kernel.to(dtype=dtype, device=device)


def depthwise_fir(x: torch.Tensor, kernel: torch.Tensor, stride: int = 1) -> torch.Tensor:
    """Applies one [k, k] filter to every channel (valid correlation; the filter is symmetric)."""
    channels = x.shape[1]
    weight = kernel.to(x.dtype)[None, None].expand(channels, 1, *kernel.shape)
    return F.conv2d(x, weight, stride=stride, groups=channels)


def zero_stuff(x: torch.Tensor) -> torch.Tensor:
    """[N, C, H, W] → [N, C, 2H, 2W] with x at the even positions and zeros elsewhere."""
    n, c, h, w = x.shape
    stuffed = x.new_zeros(n, c, h, 2, w, 2)
    stuffed[:, :, :, 0, :, 0] = x
    return stuffed.reshape(n, c, 2 * h, 2 * w)


def upsample2d(img: torch.Tensor) -> torch.Tensor:
    """The skip image up-sampling of docs/stylegan2.md §2.10: zero-stuff, pad 2 before and 1 after, filter with g."""
    padded = F.pad(zero_stuff(img), [2, 1, 2, 1])
    return depthwise_fir(padded, fir_filter_2d(4.0, img.dtype, img.device))


def upsample_conv2d(x: torch.Tensor, weight: torch.Tensor) -> torch.Tensor:
    """The up-sampling 3×3 conv of docs/stylegan2.md §2.6: stride-2 transposed conv (kernel not flipped), pad 1, filter with g."""
    y = F.conv_transpose2d(x, weight.transpose(0, 1), stride=2)
    return depthwise_fir(F.pad(y, [1, 1, 1, 1]), fir_filter_2d(4.0, x.dtype, x.device))


def demodulation_coefficients(weight: torch.Tensor, styles: torch.Tensor) -> torch.Tensor:
    """d[n, o] = 1 / sqrt(Σ_i Σ_ab W[o,i,a,b]² · s[n,i]² + 1e-8) (docs/stylegan2.md §2.4)."""
    weight_sq = weight.square().sum(dim=[2, 3])
    return (styles.square() @ weight_sq.t() + DEMODULATION_EPSILON).rsqrt()


def modulated_conv2d(
    x: torch.Tensor, weight: torch.Tensor, styles: torch.Tensor, demodulate: bool, up: bool = False
) -> torch.Tensor:
    """Modulated convolution in its batched (non-fused) form: scale x by s, convolve with the shared weight, scale by d.

    By linearity this equals convolving every sample with its own W''[o,i] = W[o,i]·s[i]·d[o] (docs/stylegan2.md §2.4).
    """
    batch = x.shape[0]
    x = x * styles.to(x.dtype).reshape(batch, -1, 1, 1)
    if up:
        x = upsample_conv2d(x, weight.to(x.dtype))
    else:
        x = F.conv2d(x, weight.to(x.dtype), padding=weight.shape[-1] // 2)
    if demodulate:
        x = x * demodulation_coefficients(weight, styles).to(x.dtype).reshape(batch, -1, 1, 1)
    return x
