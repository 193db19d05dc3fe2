"""The residual discriminator: shapes, minibatch stddev by hand, and FIR down-sampling."""

import math

import torch

from training.config import GeneratorConfig
from training.discriminator import Conv2dLayer, Discriminator, minibatch_stddev


def test_minibatch_stddev_by_hand():
    # Groups of 2 interleave: samples (0, 2) and (1, 3).
    x = torch.tensor([0.0, 10.0, 2.0, 10.0], dtype=torch.float64).reshape(4, 1, 1, 1).repeat(1, 2, 2, 2)
    out = minibatch_stddev(x, group_size=2)
    assert out.shape == (4, 3, 2, 2)
    expected = torch.tensor([1.0, 0.0, 1.0, 0.0], dtype=torch.float64)
    torch.testing.assert_close(out[:, 2, 0, 0], torch.sqrt(expected**2 + 1e-8), rtol=0, atol=1e-12)
    torch.testing.assert_close(out[:, :2], x, rtol=0, atol=0)


def test_down_sampling_convs_halve_and_keep_constants():
    x = torch.ones(1, 2, 8, 8, dtype=torch.float64)
    for kernel in (1, 3):
        layer = Conv2dLayer(2, 3, kernel, bias=False, activation=False, down=True).double()
        with torch.no_grad():
            layer.weight.fill_(1.0)
        y = layer(x)
        assert y.shape == (1, 3, 4, 4)
        # Away from the zero-padded border a constant input stays constant: Σ taps · weight gain.
        interior = y[0, 0, 1:-1, 1:-1]
        torch.testing.assert_close(interior, torch.full_like(interior, 2 * kernel**2 / math.sqrt(2 * kernel**2)))


def test_discriminator_scores_each_image_and_passes_gradients():
    config = GeneratorConfig(img_resolution=32, channel_base=256, channel_max=16, conv_clamp=256)
    D = Discriminator(config)
    img = torch.randn(4, 3, 32, 32, requires_grad=True)
    logits = D(img)
    assert logits.shape == (4, 1) and torch.isfinite(logits).all()
    logits.sum().backward()
    assert img.grad.abs().sum() > 0
    assert D.b32.fromrgb.weight.shape == (8, 3, 1, 1) and D.b8.conv1.weight.shape == (16, 16, 3, 3)
