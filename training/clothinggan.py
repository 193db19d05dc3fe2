"""ClothingGAN's demo pipeline (`mix_w` + GANSpace edits + truncation toward zero; docs/stylegan2.md §5.3, §6.5, §7.3) on a
drape model, as the reference for drape's ClothingGAN-mode graph, and the golden file its test compares to.

    python -m training.clothinggan [--out tests/fixtures/clothinggan-rect-32px.safetensors]

The demo hard-codes 16 ws split 5 | 11; here the split is a parameter, as drape's MixLayers `split`.
"""

from __future__ import annotations

import argparse
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch

from training.generator import Generator
from training.model_format import load_generator
from training.safetensors_io import write_safetensors
from training.seeds import z_from_seeds

FIXTURES = Path("tests/fixtures")
DEFAULT_OUT = FIXTURES / "clothinggan-rect-32px.safetensors"


@dataclass(frozen=True)
class Controls:
    """The demo's controls: two seeds, Structure/Style, the component sliders, Start/End layer, Truncation."""

    seed1: int
    seed2: int
    structure: float
    style: float
    split: int
    amounts: tuple[float, ...]
    start: int
    end: int
    truncation: float


# The golden case: every control away from its default, so a missing or misordered step shows.
GOLDEN = Controls(seed1=1, seed2=2, structure=0.3, style=0.8, split=3, amounts=(2.0, -1.5, 0.75), start=1, end=6,
                  truncation=0.5)


@torch.no_grad()
def clothinggan_ws(G: Generator, lat_comp: np.ndarray, controls: Controls) -> torch.Tensor:
    """The ws the demo synthesizes: [1, num_ws, w_dim]."""
    z = torch.from_numpy(z_from_seeds([controls.seed1, controls.seed2], G.config.z_dim))
    w1, w2 = G.mapping(z, truncation_psi=1.0)[:, 0]  # untruncated, one w each
    num_ws = G.mapping.num_ws
    rows = []
    for layer in range(num_ws):
        weight = controls.structure if layer < controls.split else controls.style
        rows.append((1 - weight) * w1 + weight * w2)
    ws = torch.stack(rows)
    offset = sum(float(a) * torch.from_numpy(lat_comp[k].reshape(-1)) for k, a in enumerate(controls.amounts))
    for layer in range(controls.start, controls.end):
        ws[layer] = ws[layer] + offset
    return (controls.truncation * ws)[None]  # truncation toward zero, after the edits


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model", type=Path, default=FIXTURES / "rect-32px")
    parser.add_argument("--components", type=Path, default=FIXTURES / "ganspace-rect-32px.npz")
    parser.add_argument("--out", type=Path, default=DEFAULT_OUT)
    args = parser.parse_args(argv)
    G = load_generator(args.model).eval()
    lat_comp = np.load(args.components)["lat_comp"].astype(np.float32)
    ws = clothinggan_ws(G, lat_comp, GOLDEN)
    with torch.no_grad():
        image = G.synthesis(ws, noise_mode="const")
    c = GOLDEN
    metadata = {"seed1": str(c.seed1), "seed2": str(c.seed2), "structure": str(c.structure), "style": str(c.style),
                "split": str(c.split), "amounts": ",".join(str(a) for a in c.amounts), "start": str(c.start),
                "end": str(c.end), "truncation": str(c.truncation), "model": args.model.name,
                "components": args.components.name}
    write_safetensors(args.out, {"ws": ws.contiguous(), "img": image.contiguous()}, metadata)
    print(f"wrote {args.out}: ws {tuple(ws.shape)}, img {tuple(image.shape)}")


if __name__ == "__main__":
    main()
