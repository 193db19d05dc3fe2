"""The deterministic safetensors writer: readable by the safetensors package, same bytes on every write."""

import pytest
import torch

from training.safetensors_io import read_safetensors, write_safetensors


def test_round_trip_and_identical_bytes(tmp_path):
    tensors = {"b.scalar": torch.tensor(0.25), "a.half": torch.randn(3, 5).half(), "c": torch.randn(2, 1, 4)}
    metadata = {"z": "1", "a": "two", "m": "ünï"}
    write_safetensors(tmp_path / "one.safetensors", tensors, metadata)
    write_safetensors(tmp_path / "two.safetensors", dict(reversed(tensors.items())), dict(reversed(metadata.items())))
    assert (tmp_path / "one.safetensors").read_bytes() == (tmp_path / "two.safetensors").read_bytes()
    loaded, loaded_metadata = read_safetensors(tmp_path / "one.safetensors")
    assert loaded_metadata == metadata
    for name, tensor in tensors.items():
        assert loaded[name].dtype == tensor.dtype and loaded[name].shape == tensor.shape
        assert torch.equal(loaded[name], tensor)
    header_length = int.from_bytes((tmp_path / "one.safetensors").read_bytes()[:8], "little")
    assert header_length % 8 == 0


def test_only_float_tensors_are_written(tmp_path):
    with pytest.raises(ValueError):
        write_safetensors(tmp_path / "x.safetensors", {"i": torch.arange(3)}, {})
