"""The committed golden fixtures: complete per the contract, reproducible by the script, and consistent with the reference."""

from pathlib import Path

import pytest
import torch

from training.fixtures import FIXTURES, GOLDEN_FILE, build_fixture
from training.model_format import WEIGHTS_FILE, load_generator
from training.safetensors_io import read_safetensors
from training.seeds import z_from_seeds

FIXTURE_DIR = Path(__file__).resolve().parents[2] / "tests" / "fixtures"
SPECS = {spec.name: spec for spec in FIXTURES}


def expected_names(resolution: int) -> set[str]:
    names = {"z", "ws", "img_const", "img_none", "act.b4.conv1", "act.b4.img"}
    r = 8
    while r <= resolution:
        names |= {f"act.b{r}.conv0", f"act.b{r}.conv1", f"act.b{r}.img"}
        r *= 2
    return names


# tests/fixtures/import/ holds the import fixtures (training.upstream_shapes, checked by
# test_upstream_shapes.py), not golden ones.
IMPORT_DIR = "import"


def test_fixture_set_is_small_and_covers_the_required_cases():
    golden_dirs = [p for p in FIXTURE_DIR.iterdir() if p.is_dir() and p.name != IMPORT_DIR]
    assert sorted(path.name for path in golden_dirs) == sorted(SPECS)
    files = [p for p in FIXTURE_DIR.iterdir() if p.is_file()]
    files += [path for d in golden_dirs for path in d.rglob("*") if path.is_file()]
    assert sum(path.stat().st_size for path in files) < 1.6e6
    configs = [spec.config for spec in FIXTURES]
    assert any(c.mapping_layers == 2 for c in configs)
    assert any(c.conv_clamp is not None for c in configs)
    assert any(c.z_dim != c.w_dim and c.channels(16) != c.channels(8) for c in configs)
    assert any(spec.truncation_psi != 1 and spec.truncation_cutoff is not None for spec in FIXTURES)


@pytest.mark.parametrize("name", sorted(SPECS))
def test_golden_follows_the_contract_and_the_reference(name):
    spec = SPECS[name]
    golden, metadata = read_safetensors(FIXTURE_DIR / name / GOLDEN_FILE)
    config = spec.config
    assert set(golden) == expected_names(config.img_resolution)
    assert all(tensor.dtype == torch.float32 for tensor in golden.values())
    n = len(spec.seeds)
    assert golden["ws"].shape == (n, config.num_ws, config.w_dim)
    assert golden["img_none"].shape == (n, 3, config.img_resolution, config.img_resolution)
    assert golden[f"act.b{config.img_resolution}.conv0"].shape[1] == config.channels(config.img_resolution)
    assert metadata["seeds"] == ",".join(map(str, spec.seeds))
    assert float(metadata["truncation_psi"]) == spec.truncation_psi
    assert metadata["truncation_cutoff"] == ("none" if spec.truncation_cutoff is None else str(spec.truncation_cutoff))
    assert float(metadata["max_abs_diff_float64"]) < 2e-5
    assert torch.equal(golden["z"], torch.from_numpy(z_from_seeds(list(spec.seeds), config.z_dim)))

    generator = load_generator(FIXTURE_DIR / name / WEIGHTS_FILE)
    assert generator.config == config
    with torch.no_grad():
        ws = generator.mapping(golden["z"], truncation_psi=spec.truncation_psi, truncation_cutoff=spec.truncation_cutoff)
        record = {}
        img_const = generator.synthesis(golden["ws"], noise_mode="const", record=record)
        img_none = generator.synthesis(golden["ws"], noise_mode="none")
    torch.testing.assert_close(ws, golden["ws"], rtol=0, atol=1e-5)
    torch.testing.assert_close(img_const, golden["img_const"], rtol=0, atol=1e-5)
    torch.testing.assert_close(img_none, golden["img_none"], rtol=0, atol=1e-5)
    for key, value in record.items():
        torch.testing.assert_close(value, golden[key], rtol=0, atol=1e-5)
    assert (golden["img_const"] - golden["img_none"]).abs().max() > 1e-2
    torch.testing.assert_close(golden[f"act.b{config.img_resolution}.img"], golden["img_const"], rtol=0, atol=0)
    if config.conv_clamp is not None:
        at_clamp = [(golden[key].abs() == config.conv_clamp).float().mean() for key in golden if ".conv" in key]
        assert min(at_clamp) > 0


def test_script_regenerates_the_committed_files(tmp_path):
    for spec in FIXTURES:
        build_fixture(spec, tmp_path)
        committed_weights = (FIXTURE_DIR / spec.name / WEIGHTS_FILE).read_bytes()
        assert (tmp_path / spec.name / WEIGHTS_FILE).read_bytes() == committed_weights, spec.name
        fresh, fresh_metadata = read_safetensors(tmp_path / spec.name / GOLDEN_FILE)
        committed, committed_metadata = read_safetensors(FIXTURE_DIR / spec.name / GOLDEN_FILE)
        assert fresh.keys() == committed.keys()
        for key in fresh:
            # Float32 results may differ in the last bits on another CPU; the weights and z may not.
            torch.testing.assert_close(fresh[key], committed[key], rtol=0, atol=1e-5 if key != "z" else 0)
        assert {k: v for k, v in fresh_metadata.items() if k != "max_abs_diff_float64"} == {
            k: v for k, v in committed_metadata.items() if k != "max_abs_diff_float64"}
