"""Hand-computed checks of the generator's tensor operations (docs/stylegan2.md §2.4–§2.10)."""

import numpy as np
import torch
import torch.nn.functional as F

from training.ops import (
    demodulation_coefficients,
    fir_filter_2d,
    modulated_conv2d,
    upsample2d,
    upsample_conv2d,
)
from training.tests import numpy_reference as ref


def test_one_channel_modulated_conv_by_hand():
    x = torch.arange(9, dtype=torch.float64).reshape(1, 1, 3, 3)
    weight = torch.ones(1, 1, 3, 3, dtype=torch.float64)
    styles = torch.tensor([[0.5]], dtype=torch.float64)
    # Modulated weight 0.5 everywhere; Σ W'² = 2.25, so d = 1/1.5 and every tap of W'' is 1/3.
    demodulated = modulated_conv2d(x, weight, styles, demodulate=True)[0, 0]
    window_sums = torch.tensor([[8, 15, 12], [21, 36, 27], [20, 33, 24]], dtype=torch.float64)
    d = 1 / np.sqrt(2.25 + 1e-8)
    torch.testing.assert_close(demodulated, window_sums * 0.5 * d, rtol=0, atol=1e-12)
    plain = modulated_conv2d(x, weight, styles, demodulate=False)[0, 0]
    torch.testing.assert_close(plain, window_sums * 0.5, rtol=0, atol=1e-12)


def test_demodulation_coefficients_and_unit_norm_weights():
    torch.manual_seed(1)
    weight = torch.randn(5, 4, 3, 3, dtype=torch.float64)
    styles = torch.randn(2, 4, dtype=torch.float64)
    d = demodulation_coefficients(weight, styles)
    modulated = weight[None] * styles[:, None, :, None, None]
    expected = 1 / torch.sqrt(modulated.square().sum(dim=[2, 3, 4]) + 1e-8)
    torch.testing.assert_close(d, expected, rtol=1e-14, atol=0)
    norms = (modulated * d[:, :, None, None, None]).square().sum(dim=[2, 3, 4])
    # Exactly S / (S + 1e-8) per output channel, so 1 up to the epsilon.
    torch.testing.assert_close(norms, torch.ones_like(norms), rtol=0, atol=1e-9)


def test_batched_modulated_conv_equals_per_sample_weights():
    torch.manual_seed(2)
    x = torch.randn(3, 4, 5, 5, dtype=torch.float64)
    weight = torch.randn(6, 4, 3, 3, dtype=torch.float64)
    styles = torch.randn(3, 4, dtype=torch.float64)
    for up in (False, True):
        batched = modulated_conv2d(x, weight, styles, demodulate=True, up=up)
        for n in range(3):
            own = weight * styles[n][None, :, None, None]
            own = own / torch.sqrt(own.square().sum(dim=[1, 2, 3], keepdim=True) + 1e-8)
            single = upsample_conv2d(x[n:n + 1], own) if up else F.conv2d(x[n:n + 1], own, padding=1)
            torch.testing.assert_close(batched[n:n + 1], single, rtol=0, atol=1e-12)


def test_fir_filters():
    up = fir_filter_2d(4.0, torch.float64, "cpu")
    quarter = torch.tensor([0.25, 0.75, 0.75, 0.25], dtype=torch.float64)
    torch.testing.assert_close(up, torch.outer(quarter, quarter), rtol=0, atol=0)
    assert float(up.sum()) == 4.0
    plain = fir_filter_2d(1.0, torch.float64, "cpu") * 64
    torch.testing.assert_close(plain[0], torch.tensor([1.0, 3, 3, 1], dtype=torch.float64), rtol=0, atol=0)
    torch.testing.assert_close(plain[1], torch.tensor([3.0, 9, 9, 3], dtype=torch.float64), rtol=0, atol=0)


def test_skip_upsample_closed_form_by_hand():
    img = torch.tensor([[[[1.0, 2.0], [3.0, 4.0]]]], dtype=torch.float64)
    # Per axis [a, b] → [.75a, .75a+.25b, .25a+.75b, .75b]; zero boundary, no edge clamping.
    rows = torch.tensor([[0.75, 0], [0.75, 0.25], [0.25, 0.75], [0, 0.75]], dtype=torch.float64)
    expected = rows @ img[0, 0] @ rows.t()
    torch.testing.assert_close(upsample2d(img)[0, 0], expected, rtol=0, atol=1e-15)


def test_skip_upsample_matches_closed_form_on_random_input():
    x = np.random.RandomState(3).randn(2, 3, 5, 7)
    out = upsample2d(torch.from_numpy(x)).numpy()
    np.testing.assert_allclose(out, np.stack([ref.upsample_skip(sample) for sample in x]), rtol=0, atol=1e-14)


def test_upsample_conv_matches_spec_definition_and_not_the_flipped_kernel():
    rng = np.random.RandomState(4)
    x = rng.randn(3, 4, 4)
    weight = rng.randn(2, 3, 3, 3)
    expected = ref.conv3x3_up(x, weight)
    got = upsample_conv2d(torch.from_numpy(x[None]), torch.from_numpy(weight))[0].numpy()
    np.testing.assert_allclose(got, expected, rtol=0, atol=1e-13)
    flipped = upsample_conv2d(torch.from_numpy(x[None]), torch.from_numpy(weight[:, :, ::-1, ::-1].copy()))[0].numpy()
    assert np.abs(flipped - expected).max() > 0.1


def test_upsample_conv_equals_phase_split_subpixel_conv():
    """docs/stylegan2.md §2.6: z[o,2m+ry,2n+rx] = Σ_i Σ_dy,dx x[i,m+dy,n+dx]·K[o,i,2(1−dy)+ry,2(1−dx)+rx] with K = W ⊛ g (6×6)."""
    rng = np.random.RandomState(5)
    c_in, c_out, h = 3, 2, 4
    x = rng.randn(c_in, h, h)
    weight = rng.randn(c_out, c_in, 3, 3)
    g = ref.up_filter()
    kernel = np.zeros((c_out, c_in, 6, 6))
    for a in range(3):
        for b in range(3):
            kernel[:, :, a:a + 4, b:b + 4] += weight[:, :, a, b][:, :, None, None] * g
    padded = np.pad(x, ((0, 0), (1, 1), (1, 1)))
    phased = np.zeros((c_out, 2 * h, 2 * h))
    for ry in range(2):
        for rx in range(2):
            for dy in (-1, 0, 1):
                for dx in (-1, 0, 1):
                    taps = kernel[:, :, 2 * (1 - dy) + ry, 2 * (1 - dx) + rx]
                    window = padded[:, 1 + dy:1 + dy + h, 1 + dx:1 + dx + h]
                    phased[:, ry::2, rx::2] += np.einsum("oi,ihw->ohw", taps, window)
    got = upsample_conv2d(torch.from_numpy(x[None]), torch.from_numpy(weight))[0].numpy()
    np.testing.assert_allclose(got, phased, rtol=0, atol=1e-13)
