"""Fixtures in the upstream checkpoint formats that `drape import` reads, built from drape's own weights.

    python -m training.upstream_shapes [--out tests/fixtures/import]

Takes the `rect-32px` fixture generator (tests/fixtures/rect-32px/generator.safetensors) and writes, with the same
weights, the shapes of the files people bring:

- `ada-shaped-32px.pkl`: a stylegan2-ada-pytorch network snapshot — a pickle of a dict with `G`, `D`, `G_ema`,
  `augment_pipe` and `training_set_kwargs`, whose networks are `torch_utils.persistence` objects: each module is
  rebuilt by the global `torch_utils.persistence._reconstruct_persistent_obj` from a meta dict
  `{'type': 'class', 'version': 6, 'module_src': ..., 'class_name': ..., 'state': <the module's __dict__>}`, and
  tensors are pickled as torch pickles them (`_rebuild_parameter`, `_rebuild_tensor_v2`,
  `torch.storage._load_from_bytes`). The module source is a short placeholder of our own; the state holds
  `_parameters`, `_buffers`, `_modules`, the settings upstream keeps as attributes (`z_dim`, `bias_gain`,
  `conv_clamp`, `architecture`, `use_fp16`, …) and `_init_kwargs`. `G_ema` is the rect-32px generator; `G` is
  another one (different random weights), so picking the network is tested; `D` is an empty placeholder.
- `rosinality-shaped-32px.legacy.pt` and `rosinality-shaped-32px.zip.pt`: `{'g_ema': state_dict, 'latent_avg': w_avg}`
  with rosinality/stylegan2-pytorch's tensor names and shapes (and its FIR kernel buffers), saved with
  `torch.save(..., _use_new_zipfile_serialization=False)` and with the default zip format.
- `expected-32px.npz` (float32): `z` for seeds 0, 1, 2, 42; `ws_psi10`, `ws_psi07` from the reference mapping
  (truncation toward w_avg on every layer); `img_psi10`, `img_psi07` [4, 3, 32, 32] NCHW from the reference
  synthesis with const noise.

Nothing here runs or copies upstream code. The files are small (about 1.2 MB together).
"""

from __future__ import annotations

import argparse
import copy
import io
import pickle
import sys
import types
import zipfile
from collections import OrderedDict
from pathlib import Path

import numpy as np
import torch
from torch import nn

from training.generator import Generator
from training.model_format import load_generator
from training.random_weights import randomize_parameters
from training.seeds import z_from_seeds

SOURCE = Path("tests/fixtures/rect-32px/generator.safetensors")
DEFAULT_OUT = Path("tests/fixtures/import")
ADA_FILE = "ada-shaped-32px.pkl"
ROSINALITY_LEGACY_FILE = "rosinality-shaped-32px.legacy.pt"
ROSINALITY_ZIP_FILE = "rosinality-shaped-32px.zip.pt"
EXPECTED_FILE = "expected-32px.npz"
SEEDS = (0, 1, 2, 42)
PSIS = (("psi10", 1.0), ("psi07", 0.7))
G_SEED = 7
PERSISTENCE_VERSION = 6
MODULE_SRC = "# placeholder: drape's upstream-shaped test fixture carries no network source code\n"
FIR = [1, 3, 3, 1]


# --- stylegan2-ada-pytorch network pickle ---------------------------------------------------------------------

def _persistence_module() -> types.ModuleType:
    """A stand-in `torch_utils.persistence` in sys.modules, so pickle writes the upstream global's name."""
    module = sys.modules.get("torch_utils.persistence")
    if module is not None and getattr(module, "_drape_stand_in", False):
        return module
    package = types.ModuleType("torch_utils")
    module = types.ModuleType("torch_utils.persistence")

    def _reconstruct_persistent_obj(meta):  # never called: the fixture is only written here
        raise RuntimeError("drape's stand-in persistence module does not load networks")

    _reconstruct_persistent_obj.__module__ = "torch_utils.persistence"
    _reconstruct_persistent_obj.__qualname__ = "_reconstruct_persistent_obj"
    module._reconstruct_persistent_obj = _reconstruct_persistent_obj
    module._drape_stand_in = True
    package.persistence = module
    sys.modules.setdefault("torch_utils", package)
    sys.modules["torch_utils.persistence"] = module
    return module


class PersistentModule:
    """Pickles as a `torch_utils.persistence` object: `_reconstruct_persistent_obj(meta)`."""

    def __init__(self, class_name: str, state: dict) -> None:
        self.class_name = class_name
        self.state = state

    def __reduce__(self):
        meta = dict(type="class", version=PERSISTENCE_VERSION, module_src=MODULE_SRC, class_name=self.class_name,
                    state=self.state)
        return (_persistence_module()._reconstruct_persistent_obj, (meta,))


def _module_state(parameters: dict[str, torch.Tensor], buffers: dict[str, torch.Tensor],
                  modules: dict[str, PersistentModule], attributes: dict, init_args: tuple,
                  init_kwargs: dict) -> dict:
    """An nn.Module's `__dict__` as upstream pickles it: torch's bookkeeping fields, then the module's own."""
    state = {key: copy.copy(value) for key, value in nn.Module().__dict__.items()}
    state["training"] = False
    state["_parameters"] = {name: nn.Parameter(t.detach().clone(), requires_grad=True)
                            for name, t in parameters.items()}
    state["_buffers"] = {name: t.detach().clone() for name, t in buffers.items()}
    state["_modules"] = dict(modules)
    state.update(attributes)
    state["_init_args"] = init_args
    state["_init_kwargs"] = init_kwargs
    return state


def _fir_filter() -> torch.Tensor:
    f = torch.tensor(FIR, dtype=torch.float32)
    f = f[:, None] * f[None, :]
    return f / f.sum()


def _fully_connected(fc, activation: str, lr_multiplier: float, bias_init: float) -> PersistentModule:
    out_features, in_features = fc.weight.shape
    state = _module_state({"weight": fc.weight, "bias": fc.bias}, {}, {},
                          {"activation": activation, "weight_gain": np.float64(fc.weight_gain),
                           "bias_gain": lr_multiplier},
                          (int(in_features), int(out_features)),
                          {"activation": activation, "lr_multiplier": lr_multiplier} if activation == "lrelu"
                          else {"bias_init": bias_init})
    return PersistentModule("FullyConnectedLayer", state)


def _synthesis_layer(layer, w_dim: int, resolution: int, conv_clamp) -> PersistentModule:
    out_channels, in_channels = layer.weight.shape[:2]
    up = 2 if layer.up else 1
    kwargs = {"w_dim": w_dim, "resolution": resolution}
    if up == 2:
        kwargs.update(up=2, resample_filter=FIR)
    kwargs.update(conv_clamp=conv_clamp, channels_last=False)
    state = _module_state(
        {"weight": layer.weight, "noise_strength": layer.noise_strength, "bias": layer.bias},
        {"resample_filter": _fir_filter(), "noise_const": layer.noise_const},
        {"affine": _fully_connected(layer.affine, "linear", 1, 1)},
        {"resolution": resolution, "up": up, "use_noise": True, "activation": "lrelu", "conv_clamp": conv_clamp,
         "padding": 1, "act_gain": np.float64(np.sqrt(2))},
        (int(in_channels), int(out_channels)), kwargs)
    return PersistentModule("SynthesisLayer", state)


def _to_rgb(torgb, w_dim: int, conv_clamp) -> PersistentModule:
    in_channels = torgb.weight.shape[1]
    state = _module_state({"weight": torgb.weight, "bias": torgb.bias}, {},
                          {"affine": _fully_connected(torgb.affine, "linear", 1, 1)},
                          {"conv_clamp": conv_clamp, "weight_gain": np.float64(torgb.weight_gain)},
                          (int(in_channels), 3), {"w_dim": w_dim, "conv_clamp": conv_clamp, "channels_last": False})
    return PersistentModule("ToRGBLayer", state)


def ada_generator(generator: Generator) -> PersistentModule:
    """The generator as a tree of persistent objects in stylegan2-ada's layout (canonical names, skip architecture)."""
    config = generator.config
    clamp = config.conv_clamp
    lr = config.mapping_lr_multiplier
    mapping = generator.mapping
    mapping_kwargs = {"z_dim": config.z_dim, "c_dim": 0, "w_dim": config.w_dim, "num_ws": config.num_ws,
                      "num_layers": config.mapping_layers}
    mapping_module = PersistentModule("MappingNetwork", _module_state(
        {}, {"w_avg": mapping.w_avg},
        {f"fc{i}": _fully_connected(getattr(mapping, f"fc{i}"), "lrelu", lr, 0) for i in range(config.mapping_layers)},
        {"z_dim": config.z_dim, "c_dim": 0, "w_dim": config.w_dim, "num_ws": config.num_ws,
         "num_layers": config.mapping_layers, "w_avg_beta": 0.995},
        (), mapping_kwargs))
    blocks = {}
    for r in config.block_resolutions:
        block = getattr(generator.synthesis, f"b{r}")
        in_channels = 0 if r == 4 else config.channels(r // 2)
        modules = {}
        if r != 4:
            modules["conv0"] = _synthesis_layer(block.conv0, config.w_dim, r, clamp)
        modules["conv1"] = _synthesis_layer(block.conv1, config.w_dim, r, clamp)
        modules["torgb"] = _to_rgb(block.torgb, config.w_dim, clamp)
        blocks[f"b{r}"] = PersistentModule("SynthesisBlock", _module_state(
            {"const": block.const} if r == 4 else {}, {"resample_filter": _fir_filter()}, modules,
            {"in_channels": in_channels, "w_dim": config.w_dim, "resolution": r, "img_channels": 3,
             "is_last": r == config.img_resolution, "architecture": "skip", "use_fp16": False,
             "channels_last": False, "num_conv": 1 if r == 4 else 2, "num_torgb": 1},
            (in_channels, config.channels(r)),
            {"w_dim": config.w_dim, "resolution": r, "img_channels": 3, "is_last": r == config.img_resolution,
             "use_fp16": False, "conv_clamp": clamp}))
    synthesis_kwargs = {"channel_base": config.channel_base, "channel_max": config.channel_max, "num_fp16_res": 0,
                        "conv_clamp": clamp}
    synthesis = PersistentModule("SynthesisNetwork", _module_state(
        {}, {}, blocks,
        {"w_dim": config.w_dim, "img_resolution": config.img_resolution,
         "img_resolution_log2": config.resolution_log2, "img_channels": 3,
         "block_resolutions": list(config.block_resolutions), "num_ws": config.num_ws},
        (), {"w_dim": config.w_dim, "img_resolution": config.img_resolution, "img_channels": 3, **synthesis_kwargs}))
    return PersistentModule("Generator", _module_state(
        {}, {}, {"synthesis": synthesis, "mapping": mapping_module},
        {"z_dim": config.z_dim, "c_dim": 0, "w_dim": config.w_dim, "img_resolution": config.img_resolution,
         "img_channels": 3, "num_ws": config.num_ws},
        (), {"z_dim": config.z_dim, "c_dim": 0, "w_dim": config.w_dim, "img_resolution": config.img_resolution,
             "img_channels": 3, "mapping_kwargs": {"num_layers": config.mapping_layers},
             "synthesis_kwargs": synthesis_kwargs}))


def ada_snapshot_bytes(g_ema: Generator, g: Generator) -> bytes:
    """A network snapshot as stylegan2-ada's training loop pickles it (protocol 4)."""
    snapshot = {
        "training_set_kwargs": {"class_name": "training.dataset.ImageFolderDataset", "path": "x.zip",
                                "resolution": g_ema.config.img_resolution},
        "G": ada_generator(g),
        "D": PersistentModule("Discriminator", _module_state({}, {}, {}, {"c_dim": 0}, (), {"c_dim": 0})),
        "G_ema": ada_generator(g_ema),
        "augment_pipe": None,
    }
    return pickle.dumps(snapshot, protocol=4)


# --- rosinality/stylegan2-pytorch checkpoint ------------------------------------------------------------------

def rosinality_name(canonical: str) -> str | None:
    """rosinality's name for a canonical tensor (as drape's importer maps them); None for `mapping.w_avg`."""
    parts = canonical.split(".")
    if parts[:2] == ["mapping", "w_avg"]:
        return None
    if parts[0] == "mapping":
        return f"style.{int(parts[1][2:]) + 1}.{parts[2]}"
    if parts[1:] == ["b4", "const"]:
        return "input.input"
    r = int(parts[1][1:])
    level = r.bit_length() - 1 - 3  # log2(r) - 3: -1 for b4
    layer, rest = parts[2], ".".join(parts[3:])
    if layer == "torgb":
        prefix = "to_rgb1" if level < 0 else f"to_rgbs.{level}"
        field = {"weight": "conv.weight", "bias": "bias", "affine.weight": "conv.modulation.weight",
                 "affine.bias": "conv.modulation.bias"}[rest]
        return f"{prefix}.{field}"
    c = int(layer[4:])
    prefix, noise = ("conv1", 0) if level < 0 else (f"convs.{2 * level + c}", 2 * level + c + 1)
    if rest == "noise_const":
        return f"noises.noise_{noise}"
    field = {"weight": "conv.weight", "bias": "activate.bias", "noise_strength": "noise.weight",
             "affine.weight": "conv.modulation.weight", "affine.bias": "conv.modulation.bias"}[rest]
    return f"{prefix}.{field}"


def _rosinality_shape(name: str, tensor: torch.Tensor) -> torch.Tensor:
    """The tensor in rosinality's layout (extra leading dimensions of size 1)."""
    if name == "input.input" or name.endswith("conv.weight"):
        return tensor.unsqueeze(0)
    if name.startswith("noises."):
        return tensor.reshape(1, 1, *tensor.shape)
    if name.endswith("noise.weight"):
        return tensor.reshape(1)
    if name.startswith("to_rgb") and name.endswith(".bias") and "modulation" not in name:
        return tensor.reshape(1, -1, 1, 1)
    return tensor


def rosinality_checkpoint(generator: Generator) -> dict:
    """`{'g_ema': state_dict, 'latent_avg': w_avg}` in rosinality's names, order and shapes."""
    state = generator.state_dict()
    converted = {}
    for canonical, tensor in state.items():
        name = rosinality_name(canonical)
        if name is not None:
            converted[name] = _rosinality_shape(name, tensor.detach().to(torch.float32).clone()).contiguous()
    kernel = _fir_filter() * 4  # rosinality scales its up-sampling kernels by factor**2
    levels = len(generator.config.block_resolutions) - 1
    for k in range(levels):
        converted[f"convs.{2 * k}.conv.blur.kernel"] = kernel.clone()
        converted[f"to_rgbs.{k}.upsample.kernel"] = kernel.clone()

    def order(name: str) -> tuple:
        groups = ("style.", "input.", "conv1.", "to_rgb1.", "convs.", "to_rgbs.", "noises.")
        group = next(i for i, g in enumerate(groups) if name.startswith(g))
        number = name.split(".")[1].removeprefix("noise_")
        index = int(number) if number.isdigit() else 0
        return group, index, name

    g_ema = OrderedDict((name, converted[name]) for name in sorted(converted, key=order))
    return {"g_ema": g_ema, "latent_avg": generator.mapping.w_avg.detach().clone()}


def torch_save_bytes(obj, zip_format: bool) -> bytes:
    buffer = io.BytesIO()
    torch.save(obj, buffer, _use_new_zipfile_serialization=zip_format)
    return buffer.getvalue()


# --- expected outputs ----------------------------------------------------------------------------------------

def expected_outputs(generator: Generator) -> dict[str, np.ndarray]:
    z = torch.from_numpy(z_from_seeds(list(SEEDS), generator.config.z_dim))
    arrays = {"z": z}
    with torch.no_grad():
        for label, psi in PSIS:
            ws = generator.mapping(z, truncation_psi=psi)
            arrays[f"ws_{label}"] = ws
            arrays[f"img_{label}"] = generator.synthesis(ws, noise_mode="const")
    return {name: value.detach().to(torch.float32).numpy() for name, value in arrays.items()}


def npz_bytes(arrays: dict[str, np.ndarray]) -> bytes:
    """An .npz with fixed timestamps, so the file is byte-for-byte reproducible."""
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", compression=zipfile.ZIP_STORED) as archive:
        for name, array in arrays.items():
            info = zipfile.ZipInfo(f"{name}.npy", date_time=(1980, 1, 1, 0, 0, 0))
            payload = io.BytesIO()
            np.lib.format.write_array(payload, np.ascontiguousarray(array), allow_pickle=False)
            archive.writestr(info, payload.getvalue())
    return buffer.getvalue()


def build(out: Path, source: Path = SOURCE) -> dict[str, int]:
    """Writes the four files into `out`; returns their sizes in bytes."""
    g_ema = load_generator(source)
    g = randomize_parameters(Generator(g_ema.config), G_SEED).eval()
    checkpoint = rosinality_checkpoint(g_ema)
    files = {
        ADA_FILE: ada_snapshot_bytes(g_ema, g),
        ROSINALITY_LEGACY_FILE: torch_save_bytes(checkpoint, zip_format=False),
        ROSINALITY_ZIP_FILE: torch_save_bytes(checkpoint, zip_format=True),
        EXPECTED_FILE: npz_bytes(expected_outputs(g_ema)),
    }
    out.mkdir(parents=True, exist_ok=True)
    for name, data in files.items():
        (out / name).write_bytes(data)
    return {name: len(data) for name, data in files.items()}


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--out", type=Path, default=DEFAULT_OUT)
    parser.add_argument("--source", type=Path, default=SOURCE, help="the drape generator.safetensors to convert")
    args = parser.parse_args(argv)
    for name, size in build(args.out, args.source).items():
        print(f"{args.out / name}: {size / 1024:.0f} KiB")


if __name__ == "__main__":
    main()
