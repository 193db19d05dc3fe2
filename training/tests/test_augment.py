"""DiffAugment: each transform keeps shapes, does what it says, and lets gradients through."""

import pytest
import torch

from training.augment import diff_augment, parse_policy, random_color, random_cutout, random_translation


def test_translation_shifts_content_and_fills_with_zeros():
    torch.manual_seed(0)
    x = torch.arange(1, 65, dtype=torch.float32).reshape(1, 1, 8, 8).repeat(16, 1, 1, 1)
    out = random_translation(x)
    assert out.shape == x.shape
    for sample in out:
        nonzero = sample[0][sample[0] != 0]
        assert len(nonzero) >= 36  # at most one pixel of shift per axis at 8 px (ratio 1/8)
        assert set(nonzero.tolist()) <= set(x[0, 0].flatten().tolist())
    assert any(not torch.equal(sample, x[0]) for sample in out)


def test_cutout_zeroes_a_half_size_square():
    torch.manual_seed(1)
    out = random_cutout(torch.ones(32, 2, 8, 8))
    zeros = (out[:, 0] == 0).sum(dim=[1, 2])
    assert (zeros <= 16).all() and (zeros >= 4).all() and (zeros == 16).any()
    assert torch.equal(out[:, 0], out[:, 1])


def test_color_and_full_policy_keep_gradients():
    x = torch.randn(4, 3, 8, 8, requires_grad=True)
    assert random_color(x).shape == x.shape
    out = diff_augment(x, parse_policy("color,translation,cutout"))
    out.square().sum().backward()
    assert x.grad is not None and x.grad.abs().sum() > 0


def test_policy_parsing():
    assert parse_policy("none") == () and parse_policy("") == ()
    assert parse_policy("color, cutout") == ("color", "cutout")
    with pytest.raises(ValueError):
        parse_policy("color,rotate")
