"""The mapping network z → ws: equalised dense layers, w_avg tracking, broadcast and truncation (docs/stylegan2.md §1)."""

from __future__ import annotations

import math

import torch
from torch import nn

from training.ops import lrelu_gain, normalize_2nd_moment

W_AVG_BETA = 0.995


class FullyConnected(nn.Module):
    """Equalised-learning-rate dense layer: raw weight and bias scaled at run time (docs/stylegan2.md §1.2)."""

    def __init__(self, in_features: int, out_features: int, lr_multiplier: float = 1.0,
                 bias_init: float = 0.0, activation: bool = False) -> None:
        super().__init__()
        self.weight = nn.Parameter(torch.randn(out_features, in_features) / lr_multiplier)
        self.bias = nn.Parameter(torch.full([out_features], float(bias_init)))
        self.weight_gain = lr_multiplier / math.sqrt(in_features)
        self.bias_gain = lr_multiplier
        self.activation = activation

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        weight = self.weight.to(x.dtype) * self.weight_gain
        bias = self.bias.to(x.dtype) * self.bias_gain
        x = torch.addmm(bias, x, weight.t())
        return lrelu_gain(x) if self.activation else x


class MappingNetwork(nn.Module):
    """z [N, z_dim] → ws [N, num_ws, w_dim]; parameters `fc{i}.weight/bias` and the buffer `w_avg`."""

    def __init__(self, z_dim: int, w_dim: int, num_ws: int, num_layers: int, lr_multiplier: float) -> None:
        super().__init__()
        self.num_ws = num_ws
        self.num_layers = num_layers
        features = [z_dim] + [w_dim] * num_layers
        for i in range(num_layers):
            layer = FullyConnected(features[i], features[i + 1], lr_multiplier=lr_multiplier, activation=True)
            setattr(self, f"fc{i}", layer)
        self.register_buffer("w_avg", torch.zeros(w_dim))

    def forward(self, z: torch.Tensor, truncation_psi: float = 1.0, truncation_cutoff: int | None = None,
                update_w_avg: bool = False) -> torch.Tensor:
        x = normalize_2nd_moment(z.to(self.w_avg.dtype))
        for i in range(self.num_layers):
            x = getattr(self, f"fc{i}")(x)
        if update_w_avg:
            with torch.no_grad():
                self.w_avg.copy_(x.detach().to(self.w_avg.dtype).mean(dim=0).lerp(self.w_avg, W_AVG_BETA))
        ws = x.unsqueeze(1).repeat(1, self.num_ws, 1)
        if truncation_psi != 1:
            return truncate(ws, self.w_avg, truncation_psi, truncation_cutoff)
        return ws


def truncate(ws: torch.Tensor, w_avg: torch.Tensor, psi: float, cutoff: int | None) -> torch.Tensor:
    """ws[l] = w_avg + psi·(ws[l] − w_avg) for l < cutoff (all layers when cutoff is None) (docs/stylegan2.md §1.5)."""
    count = ws.shape[1] if cutoff is None else cutoff
    truncated = w_avg.to(ws.dtype).lerp(ws[:, :count], psi)
    return torch.cat([truncated, ws[:, count:]], dim=1)
