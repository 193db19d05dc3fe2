"""Times the PyTorch reference generator (fp32, eval, no_grad, noise const) on the weights the engine loads,
in PyTorch itself or exported to ONNX and run by ONNX Runtime.

    python -m training.bench --model models/<name> --batch 1,8,32 [--device cpu|cuda]
    python -m training.bench --model models/<name> --batch 1,8,32 --runtime onnxruntime [--threads 2]
    python -m training.bench --config-f-256 [--save models/bench-f256] --batch 1,8

`--config-f-256` builds a 256 px, channel_base 16384, z/w 512, 8-mapping-layer network with fixed random
weights; `--save` writes them in the model format so the Rust benchmark can load the very same network.
Throughput is reported in images/s and in GFLOP/s by the analytic count of training/flops.py.
"""

from __future__ import annotations

import argparse
import statistics
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

import numpy as np

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


def time_batch(generator: Generator, batch: int, device: torch.device, warmup: int, runs: int,
               run: Callable[[torch.Tensor], object] | None = None) -> float:
    """Median seconds for one forward pass of `batch` seeded latents (after `warmup` untimed passes), through
    `run` when given (e.g. an ONNX Runtime session), else the PyTorch generator."""
    z = torch.from_numpy(z_from_seeds(list(range(batch)), generator.config.z_dim)).to(device)
    times = []
    with torch.no_grad():
        for i in range(warmup + runs):
            start = time.perf_counter()
            if run is None:
                generator(z, noise_mode="const")
            else:
                run(z)
            if device.type == "cuda":
                torch.cuda.synchronize(device)
            if i >= warmup:
                times.append(time.perf_counter() - start)
    return statistics.median(times)


class _ConstNoise(torch.nn.Module):
    """z → image with constant noise: the function that is exported."""

    def __init__(self, generator: Generator) -> None:
        super().__init__()
        self.generator = generator

    def forward(self, z: torch.Tensor) -> torch.Tensor:
        return self.generator(z, noise_mode="const")


#: Largest difference to PyTorch an exported network may show on a check batch (images in [−1, 1]).
ONNX_TOLERANCE = 1e-4


def onnx_runner(generator: Generator, threads: int, folder: Path) -> Callable[[torch.Tensor], np.ndarray]:
    """Exports the generator to ONNX (`torch.onnx.export(dynamo=True)`, dynamic batch) in `folder`, opens it in
    ONNX Runtime on the CPU with `threads` intra-op threads, checks it against PyTorch on two seeds, and returns
    a function z → images."""
    import onnxruntime

    path = folder / "generator.onnx"
    example = torch.from_numpy(z_from_seeds([0, 1], generator.config.z_dim))
    batch = torch.export.Dim("batch", min=1, max=4096)
    torch.onnx.export(_ConstNoise(generator).eval(), (example,), path, dynamo=True,
                      dynamic_shapes={"z": {0: batch}}, input_names=["z"], output_names=["images"], verbose=False)
    options = onnxruntime.SessionOptions()
    options.intra_op_num_threads = threads
    options.inter_op_num_threads = 1
    session = onnxruntime.InferenceSession(str(path), options, providers=["CPUExecutionProvider"])

    def run(z: torch.Tensor) -> np.ndarray:
        return session.run(None, {"z": z.cpu().numpy()})[0]

    with torch.no_grad():
        expected = generator(example, noise_mode="const").numpy()
    difference = float(np.abs(run(example) - expected).max())
    if difference > ONNX_TOLERANCE:
        raise RuntimeError(f"the ONNX export differs from PyTorch by {difference:.2e} (more than {ONNX_TOLERANCE})")
    return run


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    source = parser.add_mutually_exclusive_group(required=True)
    source.add_argument("--model", type=Path, help="model folder or generator.safetensors")
    source.add_argument("--config-f-256", action="store_true", help="random-weight 256 px config-F network")
    parser.add_argument("--save", type=Path, default=None, help="with --config-f-256: write its weights here")
    parser.add_argument("--batch", default="1,8,32", help="comma-separated batch sizes")
    parser.add_argument("--device", default=None, help="cpu or cuda; default cuda when present")
    parser.add_argument("--runtime", choices=["torch", "onnxruntime"], default="torch",
                        help="run the network in PyTorch, or export it to ONNX and run it in ONNX Runtime (CPU)")
    parser.add_argument("--threads", type=int, default=None,
                        help="CPU threads (default: PyTorch's; ONNX Runtime's intra-op threads)")
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
    if device.type == "cuda":
        # Full float32, as the engine computes: no TF32 shortcuts in matmuls and convolutions.
        torch.backends.cuda.matmul.allow_tf32 = False
        torch.backends.cudnn.allow_tf32 = False
    if args.config_f_256:
        generator = config_f_256()
        if args.save is not None:
            card = model_card("bench-f256", "Random weights (seed 256) for benchmarks; not a trained model.",
                              CONFIG_F_256, {"training_steps": "0 (random weights)"})
            save_model(generator, args.save, card, "f32", {"name": "bench-f256", "description": "random weights"})
            print(f"saved {args.save}")
    else:
        generator = load_generator(args.model)
    if args.threads is not None:
        torch.set_num_threads(args.threads)
    if args.runtime == "onnxruntime" and device.type != "cpu":
        raise SystemExit("--runtime onnxruntime runs on the CPU; leave out --device or give --device cpu")
    generator = generator.to(device)
    flops = generator_flops(generator.config)
    threads = torch.get_num_threads() if device.type == "cpu" else None
    with tempfile.TemporaryDirectory() as folder:
        run = onnx_runner(generator, threads or 1, Path(folder)) if args.runtime == "onnxruntime" else None
        runtime = "ONNX Runtime" if run is not None else "PyTorch"
        print(f"{runtime} on {device}{f' ({threads} threads)' if threads else ''}, {flops / 1e9:.2f} GFLOP/image, "
              f"resolution {generator.config.img_resolution}")
        print("batch  sec/batch  images/s  GFLOP/s")
        for batch in (int(b) for b in args.batch.split(",")):
            seconds = time_batch(generator, batch, device, args.warmup, args.runs, run)
            print(f"{batch:5d}  {seconds:9.4f}  {batch / seconds:8.2f}  {flops * batch / seconds / 1e9:7.1f}",
                  flush=True)


if __name__ == "__main__":
    ensure_malloc_tuning("training.bench")
    main()
