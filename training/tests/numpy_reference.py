"""An independent float64 NumPy transcription of docs/stylegan2.md §1–§2, written loop by loop from the formulas, for checking
the PyTorch reference. It uses the fused (per-sample weight) form of the modulated convolution."""

from __future__ import annotations

import numpy as np

SQRT2 = np.sqrt(2.0)


def lrelu_gain(x: np.ndarray) -> np.ndarray:
    return np.where(x >= 0, x, 0.2 * x) * SQRT2


def mapping(params: dict, z: np.ndarray, layers: int, lr_mul: float, num_ws: int, psi: float,
            cutoff: int | None) -> np.ndarray:
    x = z / np.sqrt(np.mean(z**2, axis=1, keepdims=True) + 1e-8)
    for i in range(layers):
        weight = params[f"mapping.fc{i}.weight"]
        x = lrelu_gain(x @ (weight * lr_mul / np.sqrt(weight.shape[1])).T + params[f"mapping.fc{i}.bias"] * lr_mul)
    ws = np.repeat(x[:, None, :], num_ws, axis=1)
    count = num_ws if cutoff is None else cutoff
    w_avg = params["mapping.w_avg"]
    ws[:, :count] = w_avg + psi * (ws[:, :count] - w_avg)
    return ws


def affine(params: dict, prefix: str, w: np.ndarray) -> np.ndarray:
    weight = params[f"{prefix}.affine.weight"]
    return w @ (weight / np.sqrt(weight.shape[1])).T + params[f"{prefix}.affine.bias"]


def conv3x3_same(x: np.ndarray, weight: np.ndarray) -> np.ndarray:
    """Cross-correlation with zero padding 1: y[o,p,q] = Σ W[o,i,a,b]·x[i,p+a−1,q+b−1]."""
    _, h, w = x.shape
    padded = np.pad(x, ((0, 0), (1, 1), (1, 1)))
    y = np.zeros((weight.shape[0], h, w))
    for a in range(3):
        for b in range(3):
            y += np.einsum("oi,ihw->ohw", weight[:, :, a, b], padded[:, a:a + h, b:b + w])
    return y


def up_filter() -> np.ndarray:
    taps = np.array([1.0, 3.0, 3.0, 1.0])
    return np.outer(taps, taps) / 16.0


def conv3x3_up(x: np.ndarray, weight: np.ndarray) -> np.ndarray:
    """docs/stylegan2.md §2.6 as written: stride-2 transposed conv (y[o,2h+a,2w+b] += x[i,h,w]·W[o,i,a,b]), pad 1, 4×4 filter g."""
    _, h, w = x.shape
    y = np.zeros((weight.shape[0], 2 * h + 1, 2 * w + 1))
    for a in range(3):
        for b in range(3):
            y[:, a:a + 2 * h:2, b:b + 2 * w:2] += np.einsum("oi,ihw->ohw", weight[:, :, a, b], x)
    padded = np.pad(y, ((0, 0), (1, 1), (1, 1)))
    g = up_filter()
    z = np.zeros((weight.shape[0], 2 * h, 2 * w))
    for u in range(4):
        for v in range(4):
            z += g[u, v] * padded[:, u:u + 2 * h, v:v + 2 * w]
    return z


def upsample_skip(img: np.ndarray) -> np.ndarray:
    """docs/stylegan2.md §2.10 closed form per axis: out[2m] = .25·in[m−1] + .75·in[m], out[2m+1] = .75·in[m] + .25·in[m+1]."""
    def along(x: np.ndarray, axis: int) -> np.ndarray:
        x = np.moveaxis(x, axis, -1)
        padded = np.pad(x, [(0, 0)] * (x.ndim - 1) + [(1, 1)])
        even = 0.25 * padded[..., :-2] + 0.75 * padded[..., 1:-1]
        odd = 0.75 * padded[..., 1:-1] + 0.25 * padded[..., 2:]
        out = np.stack([even, odd], axis=-1).reshape(*x.shape[:-1], 2 * x.shape[-1])
        return np.moveaxis(out, -1, axis)
    return along(along(img, -1), -2)


def synthesis_layer(params: dict, prefix: str, x: np.ndarray, w: np.ndarray, up: bool, noise_mode: str,
                    conv_clamp: float | None) -> np.ndarray:
    weight = params[f"{prefix}.weight"]
    s = affine(params, prefix, w)
    modulated = weight * s[None, :, None, None]
    modulated = modulated / np.sqrt(np.sum(modulated**2, axis=(1, 2, 3), keepdims=True) + 1e-8)
    y = conv3x3_up(x, modulated) if up else conv3x3_same(x, modulated)
    if noise_mode == "const":
        y = y + params[f"{prefix}.noise_strength"] * params[f"{prefix}.noise_const"]
    y = lrelu_gain(y + params[f"{prefix}.bias"][:, None, None])
    return y if conv_clamp is None else np.clip(y, -conv_clamp, conv_clamp)


def torgb(params: dict, prefix: str, x: np.ndarray, w: np.ndarray, conv_clamp: float | None) -> np.ndarray:
    weight = params[f"{prefix}.weight"][:, :, 0, 0]
    s = affine(params, prefix, w) / np.sqrt(weight.shape[1])
    y = np.einsum("ci,ihw->chw", weight * s[None, :], x) + params[f"{prefix}.bias"][:, None, None]
    return y if conv_clamp is None else np.clip(y, -conv_clamp, conv_clamp)


def synthesis(params: dict, ws: np.ndarray, resolution: int, noise_mode: str, conv_clamp: float | None) -> np.ndarray:
    """One image per row of ws, following the block dataflow of docs/stylegan2.md §2.11 and the ws indexing of docs/stylegan2.md §2.1."""
    images = []
    for sample_ws in ws:
        x = params["synthesis.b4.const"]
        x = synthesis_layer(params, "synthesis.b4.conv1", x, sample_ws[0], False, noise_mode, conv_clamp)
        img = torgb(params, "synthesis.b4.torgb", x, sample_ws[1], conv_clamp)
        k = 3
        while 2**k <= resolution:
            block = f"synthesis.b{2**k}"
            x = synthesis_layer(params, f"{block}.conv0", x, sample_ws[2 * k - 5], True, noise_mode, conv_clamp)
            x = synthesis_layer(params, f"{block}.conv1", x, sample_ws[2 * k - 4], False, noise_mode, conv_clamp)
            img = upsample_skip(img) + torgb(params, f"{block}.torgb", x, sample_ws[2 * k - 3], conv_clamp)
            k += 1
        images.append(img)
    return np.stack(images)
