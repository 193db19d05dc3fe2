"""Golden fixtures for the engine's tests: tiny random generators with their inputs, ws, per-block activations and
images, computed in float32 by the reference and checked against a float64 run of the same reference.

    python -m training.fixtures [--out tests/fixtures]

Writes `<out>/<config-name>/generator.safetensors` (model format, f32) and `golden.safetensors`; see
docs/model-format.md. Everything is seeded, and the files are written byte-deterministically.
"""

from __future__ import annotations

import argparse
from dataclasses import dataclass
from pathlib import Path

import torch

from training.config import GeneratorConfig, format_number
from training.generator import Generator
from training.model_format import WEIGHTS_FILE, save_weights
from training.random_weights import randomize_parameters
from training.safetensors_io import write_safetensors
from training.seeds import z_from_seeds
from training.synthesis import SynthesisLayer, ToRGB

GOLDEN_FILE = "golden.safetensors"
DEFAULT_OUT = Path("tests/fixtures")


@dataclass(frozen=True)
class FixtureSpec:
    name: str
    config: GeneratorConfig
    weight_seed: int
    seeds: tuple[int, ...]
    truncation_psi: float
    truncation_cutoff: int | None
    description: str


FIXTURES = (
    FixtureSpec(
        name="map2-16px",
        config=GeneratorConfig(img_resolution=16, z_dim=32, w_dim=32, mapping_layers=2, channel_base=384,
                               channel_max=24, conv_clamp=None),
        weight_seed=1, seeds=(0, 1, 2), truncation_psi=0.7, truncation_cutoff=None,
        description="16 px, 2 mapping layers, 24 channels throughout, no clamp; truncation psi 0.7 on every layer",
    ),
    FixtureSpec(
        name="clamp-32px",
        config=GeneratorConfig(img_resolution=32, z_dim=32, w_dim=32, mapping_layers=3, channel_base=192,
                               channel_max=24, conv_clamp=1.0),
        weight_seed=2, seeds=(3, 4), truncation_psi=1.0, truncation_cutoff=None,
        description="32 px, 3 mapping layers, channels 24/24/12/6, conv_clamp 1 (clamps conv and torgb outputs); "
                    "no truncation",
    ),
    FixtureSpec(
        name="rect-32px",
        config=GeneratorConfig(img_resolution=32, z_dim=24, w_dim=40, mapping_layers=4, channel_base=384,
                               channel_max=32, conv_clamp=None),
        weight_seed=3, seeds=(42, 123456), truncation_psi=0.6, truncation_cutoff=4,
        description="32 px, z 24 / w 40, 4 mapping layers, channels 32/32/24/12 (conv0 changes the channel count), "
                    "no clamp; truncation psi 0.6 on ws 0-3 only",
    ),
)


def run_reference(generator: Generator, z: torch.Tensor, spec: FixtureSpec) -> dict[str, torch.Tensor]:
    """z, ws, both images and the noise-const activations, in the generator's dtype."""
    with torch.no_grad():
        ws = generator.mapping(z, truncation_psi=spec.truncation_psi, truncation_cutoff=spec.truncation_cutoff)
        record: dict[str, torch.Tensor] = {}
        img_const = generator.synthesis(ws, noise_mode="const", record=record)
        img_none = generator.synthesis(ws, noise_mode="none")
    return {"z": z, "ws": ws, "img_const": img_const, "img_none": img_none, **record}


def clamped_fractions(generator: Generator, ws: torch.Tensor) -> dict[str, float]:
    """Fraction of outputs sitting exactly at ±conv_clamp, for the conv layers and the torgb layers."""
    clamp = generator.config.conv_clamp
    hits = {"conv": [0, 0], "torgb": [0, 0]}

    def count(kind):
        def hook(_module, _inputs, output):
            hits[kind][0] += int((output.abs() == clamp).sum())
            hits[kind][1] += output.numel()
        return hook

    handles = [module.register_forward_hook(count("conv" if isinstance(module, SynthesisLayer) else "torgb"))
               for module in generator.modules() if isinstance(module, (SynthesisLayer, ToRGB))]
    with torch.no_grad():
        generator.synthesis(ws, noise_mode="const")
    for handle in handles:
        handle.remove()
    return {kind: clamped / total for kind, (clamped, total) in hits.items()}


def build_fixture(spec: FixtureSpec, out: Path) -> dict[str, float]:
    """Writes one fixture folder; returns its float32-vs-float64 difference and clamp statistics."""
    generator = randomize_parameters(Generator(spec.config), spec.weight_seed).eval()
    z = torch.from_numpy(z_from_seeds(list(spec.seeds), spec.config.z_dim))
    golden = run_reference(generator, z, spec)
    double = Generator(spec.config).double().eval()
    double.load_state_dict(generator.state_dict())
    exact = run_reference(double, z.double(), spec)
    max_diff = max(float((golden[name].double() - exact[name]).abs().max()) for name in golden)
    stats = {"max_abs_diff_float64": max_diff, "max_abs_image": float(golden["img_const"].abs().max())}

    if spec.config.conv_clamp is not None:
        fractions = clamped_fractions(generator, golden["ws"])
        if not (fractions["conv"] > 0 and fractions["torgb"] > 0):
            raise AssertionError(f"{spec.name}: conv_clamp {spec.config.conv_clamp} clamps nothing: {fractions}")
        stats.update({f"clamped_{kind}": value for kind, value in fractions.items()})

    folder = out / spec.name
    save_weights(generator, folder / WEIGHTS_FILE, "f32", {"name": spec.name, "description": spec.description})
    metadata = {
        "seeds": ",".join(str(seed) for seed in spec.seeds),
        "truncation_psi": format_number(spec.truncation_psi),
        "truncation_cutoff": "none" if spec.truncation_cutoff is None else str(spec.truncation_cutoff),
        "description": spec.description,
        "max_abs_diff_float64": f"{max_diff:.3e}",
    }
    write_safetensors(folder / GOLDEN_FILE, {name: tensor.float() for name, tensor in golden.items()}, metadata)
    return stats


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--out", type=Path, default=DEFAULT_OUT)
    args = parser.parse_args(argv)
    for spec in FIXTURES:
        stats = build_fixture(spec, args.out)
        size = sum(path.stat().st_size for path in (args.out / spec.name).iterdir())
        details = " ".join(f"{key}={value:.3g}" for key, value in stats.items())
        print(f"{spec.name}: {size / 1024:.0f} KiB {details}")


if __name__ == "__main__":
    main()
