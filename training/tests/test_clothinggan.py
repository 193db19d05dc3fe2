"""The ClothingGAN reference: the committed golden file regenerates byte for byte, and its ws follow the demo's
order (blend per layer group, edits on [start, end), then ws ← ψ·ws)."""

from pathlib import Path

import numpy as np
import torch

from training.clothinggan import GOLDEN, clothinggan_ws, main
from training.model_format import load_generator
from training.seeds import z_from_seeds

FIXTURES = Path(__file__).resolve().parents[2] / "tests" / "fixtures"


def test_golden_file_regenerates_identically(tmp_path):
    out = tmp_path / "golden.safetensors"
    main(["--model", str(FIXTURES / "rect-32px"), "--components", str(FIXTURES / "ganspace-rect-32px.npz"),
          "--out", str(out)])
    assert out.read_bytes() == (FIXTURES / "clothinggan-rect-32px.safetensors").read_bytes()


def test_ws_are_the_blend_plus_the_edits_scaled_by_truncation():
    G = load_generator(FIXTURES / "rect-32px").eval()
    lat_comp = np.load(FIXTURES / "ganspace-rect-32px.npz")["lat_comp"].reshape(3, -1)
    ws = clothinggan_ws(G, lat_comp, GOLDEN)[0].double()
    with torch.no_grad():
        w1, w2 = G.mapping(torch.from_numpy(z_from_seeds([GOLDEN.seed1, GOLDEN.seed2], 24)))[:, 0].double()
    offset = torch.from_numpy(lat_comp.T.astype(np.float64) @ np.array(GOLDEN.amounts))
    for layer in range(ws.shape[0]):
        weight = GOLDEN.structure if layer < GOLDEN.split else GOLDEN.style
        expected = (1 - weight) * w1 + weight * w2
        if GOLDEN.start <= layer < GOLDEN.end:
            expected = expected + offset
        torch.testing.assert_close(ws[layer], GOLDEN.truncation * expected, rtol=1e-5, atol=1e-5)
