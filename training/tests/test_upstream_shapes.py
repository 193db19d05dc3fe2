"""The upstream-shaped import fixtures (tests/fixtures/import/) are what training.upstream_shapes writes today."""

from __future__ import annotations

import pickle
import zipfile
from pathlib import Path

import numpy as np
import pytest
import torch

from training import upstream_shapes
from training.safetensors_io import read_safetensors

COMMITTED = Path(__file__).resolve().parents[2] / "tests" / "fixtures" / "import"
SOURCE = Path(__file__).resolve().parents[2] / upstream_shapes.SOURCE
ALLOWED = {
    ("collections", "OrderedDict"),
    ("torch._utils", "_rebuild_tensor_v2"),
    ("torch._utils", "_rebuild_parameter"),
    ("torch.storage", "_load_from_bytes"),
    ("numpy._core.multiarray", "scalar"),
    ("numpy.core.multiarray", "scalar"),
    ("numpy", "dtype"),
}


class _Unpickler(pickle.Unpickler):
    """Reads the ADA-shaped pickle without any persistence module: each network becomes its meta dict."""

    def find_class(self, module, name):
        if (module, name) == ("torch_utils.persistence", "_reconstruct_persistent_obj"):
            return lambda meta: {"persistent": meta}
        if (module, name) not in ALLOWED:
            raise pickle.UnpicklingError(f"unexpected global {module}.{name}")
        return super().find_class(module, name)


def _load_ada(path: Path):
    with open(path, "rb") as handle:
        return _Unpickler(handle).load()


def _assert_same(a, b, where="root"):
    assert type(a) is type(b), where
    if isinstance(a, torch.Tensor):
        assert a.dtype == b.dtype and a.shape == b.shape and torch.equal(a, b), where
    elif isinstance(a, dict):
        assert list(a) == list(b), where
        for key in a:
            _assert_same(a[key], b[key], f"{where}.{key}")
    elif isinstance(a, (list, tuple)):
        assert len(a) == len(b), where
        for i, (x, y) in enumerate(zip(a, b)):
            _assert_same(x, y, f"{where}[{i}]")
    else:
        assert a == b, where


def _state_dict(network: dict, prefix: str = "") -> dict[str, torch.Tensor]:
    state = network["persistent"]["state"]
    out = {prefix + name: t for field in ("_parameters", "_buffers") for name, t in state[field].items()}
    for name, child in state["_modules"].items():
        out.update(_state_dict(child, f"{prefix}{name}."))
    return out


@pytest.fixture(scope="module")
def regenerated(tmp_path_factory) -> Path:
    out = tmp_path_factory.mktemp("import")
    upstream_shapes.build(out, SOURCE)
    return out


def test_ada_pickle_matches_committed(regenerated):
    committed = _load_ada(COMMITTED / upstream_shapes.ADA_FILE)
    fresh = _load_ada(regenerated / upstream_shapes.ADA_FILE)
    _assert_same(fresh, committed)
    assert list(committed) == ["training_set_kwargs", "G", "D", "G_ema", "augment_pipe"]
    meta = committed["G_ema"]["persistent"]
    assert meta["type"] == "class" and meta["class_name"] == "Generator"
    assert meta["module_src"] == upstream_shapes.MODULE_SRC and "NVIDIA" not in meta["module_src"]
    rect, _ = read_safetensors(SOURCE)
    g_ema = _state_dict(committed["G_ema"])
    assert set(rect) <= set(g_ema)
    assert set(g_ema) - set(rect) == {name for name in g_ema if name.endswith("resample_filter")}
    for name, tensor in rect.items():
        assert torch.equal(g_ema[name], tensor), name
    assert not torch.equal(_state_dict(committed["G"])["mapping.fc0.weight"], rect["mapping.fc0.weight"])


@pytest.mark.parametrize("name,is_zip", [(upstream_shapes.ROSINALITY_LEGACY_FILE, False),
                                         (upstream_shapes.ROSINALITY_ZIP_FILE, True)])
def test_rosinality_checkpoints_match_committed(regenerated, name, is_zip):
    assert zipfile.is_zipfile(COMMITTED / name) == is_zip
    committed = torch.load(COMMITTED / name, weights_only=True)
    fresh = torch.load(regenerated / name, weights_only=True)
    _assert_same(fresh, committed)
    assert list(committed) == ["g_ema", "latent_avg"]
    rect, _ = read_safetensors(SOURCE)
    for canonical, tensor in rect.items():
        source = upstream_shapes.rosinality_name(canonical)
        stored = committed["latent_avg"] if source is None else committed["g_ema"][source]
        assert torch.equal(stored.reshape(tensor.shape), tensor), canonical


def test_expected_outputs_match_committed(regenerated):
    committed = np.load(COMMITTED / upstream_shapes.EXPECTED_FILE)
    fresh = np.load(regenerated / upstream_shapes.EXPECTED_FILE)
    assert sorted(committed.files) == sorted(fresh.files) == sorted(
        ["z", "ws_psi10", "ws_psi07", "img_psi10", "img_psi07"])
    for key in committed.files:
        assert committed[key].dtype == np.float32
        np.testing.assert_allclose(fresh[key], committed[key], rtol=0, atol=1e-5, err_msg=key)
    assert committed["img_psi07"].shape == (len(upstream_shapes.SEEDS), 3, 32, 32)
