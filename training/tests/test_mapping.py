"""Mapping network checks: normalisation, equalised dense layers, w_avg tracking, truncation with cutoff (docs/stylegan2.md §1)."""

import math

import torch

from training.mapping import FullyConnected, MappingNetwork, truncate
from training.ops import normalize_2nd_moment


def test_normalize_2nd_moment_by_hand():
    z = torch.tensor([[3.0, 4.0]], dtype=torch.float64)
    expected = z / math.sqrt(12.5 + 1e-8)
    torch.testing.assert_close(normalize_2nd_moment(z), expected, rtol=0, atol=1e-15)


def test_equalised_dense_layer_by_hand():
    layer = FullyConnected(2, 1, lr_multiplier=0.01, activation=True).double()
    with torch.no_grad():
        layer.weight.copy_(torch.tensor([[100.0, -300.0]]))
        layer.bias.copy_(torch.tensor([50.0]))
    x = torch.tensor([[1.0, 1.0], [2.0, 0.0]], dtype=torch.float64)
    # Effective weight [1, −3]/sqrt(2), effective bias 0.5; lrelu slope 0.2, then ·sqrt(2).
    pre = torch.tensor([(1 - 3) / math.sqrt(2) + 0.5, 2 / math.sqrt(2) + 0.5], dtype=torch.float64)
    expected = torch.where(pre >= 0, pre, 0.2 * pre) * math.sqrt(2)
    torch.testing.assert_close(layer(x)[:, 0], expected, rtol=0, atol=1e-14)


def test_truncation_with_cutoff_by_hand():
    ws = torch.tensor([[[2.0, 4.0], [2.0, 4.0], [2.0, 4.0]]], dtype=torch.float64)
    w_avg = torch.tensor([1.0, 0.0], dtype=torch.float64)
    out = truncate(ws, w_avg, psi=0.5, cutoff=2)
    expected = torch.tensor([[[1.5, 2.0], [1.5, 2.0], [2.0, 4.0]]], dtype=torch.float64)
    torch.testing.assert_close(out, expected, rtol=0, atol=0)
    torch.testing.assert_close(truncate(ws, w_avg, psi=0.5, cutoff=None)[0, 2], torch.tensor(
        [1.5, 2.0], dtype=torch.float64), rtol=0, atol=0)


def test_mapping_broadcasts_truncates_and_tracks_w_avg():
    torch.manual_seed(0)
    mapping = MappingNetwork(z_dim=6, w_dim=5, num_ws=4, num_layers=3, lr_multiplier=0.01).double()
    with torch.no_grad():
        mapping.w_avg.copy_(torch.randn(5))
    z = torch.randn(3, 6, dtype=torch.float64)
    ws = mapping(z)
    assert ws.shape == (3, 4, 5)
    assert torch.equal(ws[:, 0], ws[:, 3])
    truncated = mapping(z, truncation_psi=0.7, truncation_cutoff=1)
    torch.testing.assert_close(truncated[:, 0], mapping.w_avg + 0.7 * (ws[:, 0] - mapping.w_avg))
    assert torch.equal(truncated[:, 1:], ws[:, 1:])
    before = mapping.w_avg.clone()
    mapping(z, update_w_avg=True)
    torch.testing.assert_close(mapping.w_avg, ws[:, 0].mean(0) + 0.995 * (before - ws[:, 0].mean(0)))
