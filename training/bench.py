"""Times the PyTorch reference generator (fp32, eval, no_grad, noise const) on the weights the engine loads.

    python -m training.bench --model models/<name> --batch 1,8,32 [--device cpu|cuda]
    python -m training.bench --config-f-256 [--save models/bench-f256] --batch 1,8

`--config-f-256` builds a 256 px, channel_base 16384, z/w 512, 8-mapping-layer network with fixed random
weights; `--save` writes them in the model format so the Rust benchmark can load the very same network.
Throughput is reported in images/s and in GFLOP/s by the analytic count of training/flops.py.
"""

from __future__ import annotations

import argparse
import statistics
import time
from pathlib import Path

import torch

from training.config import GeneratorConfig
from training.flops import generator_flops
from training.generator import Generator
from training.model_card import model_card
from training.model_format import load_generator, save_model
from training.random_weights import randomize_parameters
from training.runtime import configure_torch, ensure_malloc_tuning, select_device
from training.seeds import z_from_seeds

CONFIG_F_256 = GeneratorConfig(img_resolution=256, z_dim=512, w_dim=512, mapping_layers=8, channel_base=16384,
                               channel_max=512, conv_clamp=None)
CONFIG_F_SEED = 256


def config_f_256() -> Generator:
    return randomize_parameters(Generator(CONFIG_F_256), CONFIG_F_SEED).eval()


def time_batch(generator: Generator, batch: int, device: torch.device, warmup: int, runs: int) -> float:
    """Median seconds for one forward pass of `batch` seeded latents (after `warmup` untimed passes)."""
    z = torch.from_numpy(z_from_seeds(list(range(batch)), generator.config.z_dim)).to(device)
    times = []
    with torch.no_grad():
        for i in range(warmup + runs):
            start = time.perf_counter()
            generator(z, noise_mode="const")
            if device.type == "cuda":
                torch.cuda.synchronize(device)
            if i >= warmup:
                times.append(time.perf_counter() - start)
    return statistics.median(times)


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    source = parser.add_mutually_exclusive_group(required=True)
    source.add_argument("--model", type=Path, help="model folder or generator.safetensors")
    source.add_argument("--config-f-256", action="store_true", help="random-weight 256 px config-F network")
    parser.add_argument("--save", type=Path, default=None, help="with --config-f-256: write its weights here")
    parser.add_argument("--batch", default="1,8,32", help="comma-separated batch sizes")
    parser.add_argument("--device", default=None, help="cpu or cuda; default cuda when present")
    parser.add_argument("--warmup", type=int, default=1)
    parser.add_argument("--runs", type=int, default=3)
    args = parser.parse_args(argv)
    if args.save is not None and not args.config_f_256:
        parser.error("--save goes with --config-f-256")
    return args


def main(argv: list[str] | None = None) -> None:
    args = parse_args(argv)
    device = select_device(args.device)
    configure_torch(device)
    if args.config_f_256:
        generator = config_f_256()
        if args.save is not None:
            card = model_card("bench-f256", "Random weights (seed 256) for benchmarks; not a trained model.",
                              CONFIG_F_256, {"training_steps": "0 (random weights)"})
            save_model(generator, args.save, card, "f32", {"name": "bench-f256", "description": "random weights"})
            print(f"saved {args.save}")
    else:
        generator = load_generator(args.model)
    generator = generator.to(device)
    flops = generator_flops(generator.config)
    threads = torch.get_num_threads() if device.type == "cpu" else None
    print(f"device {device}{f' ({threads} threads)' if threads else ''}, {flops / 1e9:.2f} GFLOP/image, "
          f"resolution {generator.config.img_resolution}")
    print("batch  sec/batch  images/s  GFLOP/s")
    for batch in (int(b) for b in args.batch.split(",")):
        seconds = time_batch(generator, batch, device, args.warmup, args.runs)
        print(f"{batch:5d}  {seconds:9.4f}  {batch / seconds:8.2f}  {flops * batch / seconds / 1e9:7.1f}", flush=True)


if __name__ == "__main__":
    ensure_malloc_tuning("training.bench")
    main()
