"""The whole reference generator against the independent NumPy transcription, plus its naming and sizes."""

import numpy as np
import pytest
import torch

from training.config import GeneratorConfig
from training.generator import Generator
from training.random_weights import randomize_parameters
from training.tests import numpy_reference as ref


def test_config_f_256_names_and_sizes_match_ada():
    generator = Generator(GeneratorConfig(img_resolution=256, channel_base=16384))
    state = generator.state_dict()
    # ADA has 144 tensors here, 20 of them resample_filter buffers the format drops (docs/stylegan2.md §3, §4.1).
    assert len(state) == 124
    assert abs(sum(t.numel() for t in state.values()) - 24.94e6) < 0.01e6
    assert state["synthesis.b8.conv0.weight"].shape == (512, 512, 3, 3)
    assert state["synthesis.b256.conv0.affine.weight"].shape == (128, 512)
    assert state["synthesis.b256.torgb.weight"].shape == (3, 64, 1, 1)
    assert state["synthesis.b4.conv1.noise_strength"].shape == ()
    assert state["synthesis.b256.conv1.noise_const"].shape == (256, 256)
    assert "synthesis.b4.conv0.weight" not in state and not any("resample_filter" in k for k in state)


@pytest.mark.parametrize("resolution, num_ws", [(8, 4), (32, 8), (512, 16), (1024, 18)])
def test_num_ws(resolution, num_ws):
    assert GeneratorConfig(img_resolution=resolution, channel_base=1024, channel_max=8).num_ws == num_ws


@pytest.mark.parametrize("noise_mode", ["const", "none"])
@pytest.mark.parametrize("conv_clamp, psi, cutoff", [(None, 1.0, None), (0.6, 0.7, 3)])
def test_matches_numpy_float64_reference(noise_mode, conv_clamp, psi, cutoff):
    config = GeneratorConfig(img_resolution=16, z_dim=10, w_dim=12, mapping_layers=3, channel_base=96,
                             channel_max=8, conv_clamp=conv_clamp)
    generator = randomize_parameters(Generator(config).double(), seed=11).eval()
    params = {name: t.numpy() for name, t in generator.state_dict().items()}
    z = np.random.RandomState(0).randn(2, 10)
    with torch.no_grad():
        ws = generator.mapping(torch.from_numpy(z), truncation_psi=psi, truncation_cutoff=cutoff)
        img = generator.synthesis(ws, noise_mode=noise_mode).numpy()
    expected_ws = ref.mapping(params, z, 3, 0.01, config.num_ws, psi, cutoff)
    np.testing.assert_allclose(ws.numpy(), expected_ws, rtol=0, atol=1e-12)
    expected = ref.synthesis(params, expected_ws, 16, noise_mode, conv_clamp)
    np.testing.assert_allclose(img, expected, rtol=0, atol=1e-11)
    assert np.abs(expected).max() > 0.5


def test_noise_modes():
    config = GeneratorConfig(img_resolution=8, z_dim=4, w_dim=4, mapping_layers=1, channel_base=64, channel_max=4)
    generator = randomize_parameters(Generator(config), seed=3).eval()
    z = torch.randn(2, 4)
    with torch.no_grad():
        const = generator(z, noise_mode="const")
        none = generator(z, noise_mode="none")
        random_a = generator(z, noise_mode="random")
        random_b = generator(z, noise_mode="random")
        assert torch.equal(const, generator(z, noise_mode="const"))
    assert not torch.allclose(const, none) and not torch.allclose(random_a, random_b)
    with pytest.raises(ValueError):
        generator(z, noise_mode="fixed")


def test_intermediates_are_recorded_for_every_block():
    config = GeneratorConfig(img_resolution=16, z_dim=4, w_dim=4, mapping_layers=1, channel_base=64, channel_max=4)
    generator = Generator(config).eval()
    record = {}
    with torch.no_grad():
        img = generator.synthesis(generator.mapping(torch.randn(2, 4)), record=record)
    assert sorted(record) == sorted(["act.b4.conv1", "act.b4.img"] + [
        f"act.b{r}.{part}" for r in (8, 16) for part in ("conv0", "conv1", "img")])
    assert record["act.b8.conv0"].shape == (2, 4, 8, 8)
    assert torch.equal(record["act.b16.img"], img)
