"""Export/import round trips of the model format, f32 and f16, and its metadata contract."""

import pytest
import torch
from safetensors import safe_open
from safetensors.torch import save_file

from training.config import GeneratorConfig
from training.generator import Generator
from training.model_card import model_card
from training.model_format import WEIGHTS_FILE, load_generator, read_metadata, save_model
from training.random_weights import randomize_parameters

CONFIG = GeneratorConfig(img_resolution=16, z_dim=8, w_dim=12, mapping_layers=2, channel_base=128, channel_max=16,
                         conv_clamp=256)


def exported(tmp_path, dtype):
    generator = randomize_parameters(Generator(CONFIG), seed=5).eval()
    card = model_card("test", "A test model.", CONFIG, {"training_steps": "0"})
    folder = save_model(generator, tmp_path / "model", card, dtype, {"name": "test", "training_images_seen": "0"})
    return generator, folder


def test_f32_round_trip_is_exact(tmp_path):
    generator, folder = exported(tmp_path, "f32")
    loaded = load_generator(folder)
    for name, tensor in generator.state_dict().items():
        assert torch.equal(loaded.state_dict()[name], tensor), name
    z = torch.randn(2, 8)
    with torch.no_grad():
        assert torch.equal(loaded(z), generator(z))
    assert (folder / "MODEL.md").read_text().startswith("# test")


def test_f16_round_trip_rounds_each_tensor_once(tmp_path):
    generator, folder = exported(tmp_path, "f16")
    with safe_open(str(folder / WEIGHTS_FILE), framework="pt") as handle:
        assert {handle.get_tensor(name).dtype for name in handle.keys()} == {torch.float16}
    loaded = load_generator(folder)
    for name, tensor in generator.state_dict().items():
        assert torch.equal(loaded.state_dict()[name], tensor.half().float()), name
    z = torch.randn(2, 8)
    with torch.no_grad():
        assert (loaded(z) - generator(z)).abs().max() < 0.05


def test_file_follows_the_contract(tmp_path):
    _, folder = exported(tmp_path, "f32")
    path = folder / WEIGHTS_FILE
    metadata = read_metadata(path)
    assert metadata == {
        "format": "drape-stylegan2", "format_version": "1", "z_dim": "8", "w_dim": "12", "c_dim": "0",
        "img_resolution": "16", "img_channels": "3", "num_ws": "6", "mapping_layers": "2",
        "mapping_lr_multiplier": "0.01", "channel_base": "128", "channel_max": "16", "conv_clamp": "256",
        "architecture": "skip", "name": "test", "training_images_seen": "0",
    }
    with safe_open(str(path), framework="pt") as handle:
        names = set(handle.keys())
        assert handle.get_tensor("synthesis.b8.conv0.noise_strength").shape == ()
    assert not any("resample_filter" in name for name in names)
    assert {"mapping.w_avg", "mapping.fc1.bias", "synthesis.b4.const", "synthesis.b16.torgb.affine.bias"} <= names


def test_loader_rejects_foreign_files(tmp_path):
    _, folder = exported(tmp_path, "f32")
    path = folder / WEIGHTS_FILE
    with safe_open(str(path), framework="pt") as handle:
        tensors = {name: handle.get_tensor(name) for name in handle.keys()}
        metadata = dict(handle.metadata())
    save_file(tensors, str(tmp_path / "conditional.safetensors"), metadata={**metadata, "c_dim": "10"})
    with pytest.raises(ValueError, match="c_dim"):
        load_generator(tmp_path / "conditional.safetensors")
    del tensors["mapping.w_avg"]
    save_file(tensors, str(tmp_path / "incomplete.safetensors"), metadata=metadata)
    with pytest.raises(RuntimeError, match="w_avg"):
        load_generator(tmp_path / "incomplete.safetensors")


def test_conv_clamp_metadata_forms():
    assert GeneratorConfig(conv_clamp=None).to_metadata()["conv_clamp"] == "none"
    assert GeneratorConfig(conv_clamp=0.75).to_metadata()["conv_clamp"] == "0.75"
    config = GeneratorConfig(img_resolution=32, conv_clamp=1.5)
    assert GeneratorConfig.from_metadata(config.to_metadata()) == config


def test_an_explicit_channel_table_round_trips_and_builds_those_widths(tmp_path):
    """Imported networks whose widths follow no base/max rule carry `channels` (docs/model-format.md)."""
    config = GeneratorConfig(img_resolution=16, z_dim=8, w_dim=8, mapping_layers=2, channel_base=192,
                             channel_max=12, channel_table=(12, 10, 6))
    assert config.to_metadata()["channels"] == "12,10,6"
    assert GeneratorConfig.from_metadata(config.to_metadata()) == config
    assert "channels" not in CONFIG.to_metadata()
    generator = randomize_parameters(Generator(config), seed=3).eval()
    assert generator.state_dict()["synthesis.b8.conv1.weight"].shape[:2] == (10, 10)
    card = model_card("table", "A model with a channel table.", config, {"training_steps": "0"})
    folder = save_model(generator, tmp_path / "model", card, "f32", {"name": "table", "training_images_seen": "0"})
    assert load_generator(folder).state_dict()["synthesis.b16.conv0.weight"].shape[:2] == (6, 10)
    with pytest.raises(ValueError, match="channels lists 2 blocks"):
        GeneratorConfig(img_resolution=16, channel_table=(12, 10))
