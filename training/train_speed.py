"""Measures the trainer's speed (images per second) for variants of its settings, interleaved over rounds so that
other load on a shared machine falls on every variant alike.

    python -m training.train_speed --variants baseline,channels-last,bf16,bf16+channels-last --rounds 3

The network is the shipped CPU model's (64 px, z/w 128, 4 mapping layers, channel base 2048, max 128, batch 32)
unless given otherwise. Each variant's plain steps (G, D) and R1 steps are timed apart, and the R1 cost is
amortised over the variant's R1 interval, so any interval can be read off one measurement. The data are random
images: the speed does not depend on them.
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import statistics
import time
from pathlib import Path

import numpy as np
import torch

from training.config import GeneratorConfig
from training.losses import discriminator_loss, generator_loss
from training.runtime import ensure_malloc_tuning
from training.trainer import TrainOptions, Trainer

CPU_NETWORK = GeneratorConfig(img_resolution=64, z_dim=128, w_dim=128, mapping_layers=4, channel_base=2048,
                              channel_max=128, conv_clamp=256)

DEFAULT_THREADS = torch.get_num_threads()

# name → TrainOptions changes; names combine with "+" (e.g. "bf16+channels-last+threads1").
VARIANT_PARTS = {
    "baseline": {},
    "channels-last": {"channels_last": True},
    "bf16": {"amp": True},
    "fp32": {"amp": False},
    "compile": {"compile": True},
    "threads1": {"threads": 1},
    "threads2": {"threads": 2},
    "dwidth0.5": {"d_width": 0.5},
    "r1every32": {"r1_interval": 32},
    "r1every8": {"r1_interval": 8},
}


def variant_changes(name: str) -> dict:
    changes = {"amp": False}
    for part in name.split("+"):
        if part not in VARIANT_PARTS:
            raise ValueError(f"unknown variant part {part!r}; choose from {sorted(VARIANT_PARTS)}")
        changes.update(VARIANT_PARTS[part])
    return changes


def build_trainer(name: str, network: GeneratorConfig, batch: int, data: Path, run_dir: Path) -> Trainer:
    options = TrainOptions(network=network, data=data, run_dir=run_dir / name, batch=batch, steps=10**9,
                           device="cpu", sample_every=10**9, checkpoint_every=10**9, log_every=10**9,
                           **variant_changes(name))
    return Trainer(options)


def time_steps(trainer: Trainer, steps: int, clock=time.perf_counter) -> tuple[list[float], list[float], list[dict]]:
    """Seconds of plain steps and of R1 steps (the step as a whole), and their stats."""
    plain, with_r1, stats = [], [], []
    torch.set_num_threads(trainer.options.threads or DEFAULT_THREADS)
    for _ in range(steps):
        r1_due = trainer.step % trainer.options.r1_interval == 0
        start = clock()
        stats.append(trainer.train_step())
        (with_r1 if r1_due else plain).append(clock() - start)
    return plain, with_r1, stats


def gradients(trainer: Trainer, network: str, amp: bool, seed: int) -> torch.Tensor:
    """All gradients of one G or D loss (same seed, same batch) as one flat vector, with or without bf16 autocast."""
    options = trainer.options
    trainer.use_amp = amp
    torch.manual_seed(seed)
    real = trainer.sampler.images[:options.batch].permute(0, 3, 1, 2).float() / 127.5 - 1
    real = real.contiguous(memory_format=trainer.memory_format)
    z = torch.randn(options.batch, options.network.z_dim)
    model = trainer.G if network == "G" else trainer.D
    trainer.G.requires_grad_(network == "G")
    trainer.D.requires_grad_(network == "D")
    model.zero_grad(set_to_none=True)
    with trainer.autocast():
        if network == "G":
            loss = generator_loss(trainer.G, trainer.D, z, options.mixing_prob, trainer.policy, trainer.memory_format)
        else:
            loss = discriminator_loss(trainer.G, trainer.D, z, real, options.mixing_prob, trainer.policy,
                                      trainer.memory_format)[0]
    loss.backward()
    return torch.cat([p.grad.flatten() for p in model.parameters() if p.grad is not None])


def precision_check(trainer: Trainer, seeds: int = 3) -> dict[str, float]:
    """Cosine similarity and relative error of bf16-autocast gradients against float32 ones, per network."""
    result = {}
    for network in ("G", "D"):
        cosines, errors, exacts = [], [], []
        for seed in range(seeds):
            exact = gradients(trainer, network, False, seed)
            approx = gradients(trainer, network, True, seed)
            cosines.append(float(torch.nn.functional.cosine_similarity(exact, approx, dim=0)))
            errors.append(float((approx - exact).norm() / exact.norm()))
            exacts.append(exact)
        result[f"{network}_cosine_min"] = min(cosines)
        result[f"{network}_relative_error_max"] = max(errors)
        # For scale: float32 gradients of the same real batch with another z and another noise draw.
        result[f"{network}_float32_cosine_between_draws_max"] = max(
            float(torch.nn.functional.cosine_similarity(a, b, dim=0)) for a, b in zip(exacts, exacts[1:]))
    return result


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--variants", default="baseline,channels-last,bf16")
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--steps", type=int, default=8, help="timed steps per variant per round")
    parser.add_argument("--warmup", type=int, default=3, help="untimed steps per variant before the first round")
    parser.add_argument("--batch", type=int, default=32)
    parser.add_argument("--resolution", type=int, default=CPU_NETWORK.img_resolution)
    parser.add_argument("--run-dir", type=Path, default=Path("training/runs/train-speed"))
    parser.add_argument("--out", type=Path, default=None, help="JSON report")
    parser.add_argument("--cpu-time", action="store_true",
                        help="time the process's CPU seconds instead of wall seconds: on a busy machine this measures "
                             "the work of one-thread variants without the other load (not meaningful for threads > 1)")
    parser.add_argument("--precision-check", type=Path, default=None, metavar="MODEL",
                        help="instead of timing: compare bf16-autocast gradients with float32 ones for a model's "
                             "generator (a fresh D) on the prepared photos given by --data")
    parser.add_argument("--data", type=Path, default=None, help="prepared .npy for --precision-check")
    args = parser.parse_args(argv)
    network = dataclasses.replace(CPU_NETWORK, img_resolution=args.resolution)
    args.run_dir.mkdir(parents=True, exist_ok=True)
    if args.precision_check is not None:
        options = TrainOptions(network=network, data=args.data, run_dir=args.run_dir / "precision", batch=args.batch,
                               device="cpu", init_from=args.precision_check, channels_last=True)
        print(json.dumps(precision_check(Trainer(options)), indent=1))
        return
    data = args.run_dir / f"random-{args.resolution}.npy"
    np.save(data, np.random.RandomState(0).randint(0, 256, (256, args.resolution, args.resolution, 3), np.uint8))

    names = args.variants.split(",")
    trainers = {}
    for name in names:
        start = time.perf_counter()
        trainers[name] = build_trainer(name, network, args.batch, data, args.run_dir)
        trainers[name].step = 1  # the first timed steps are plain ones
        time_steps(trainers[name], args.warmup)
        print(f"{name}: warm-up {time.perf_counter() - start:.1f} s", flush=True)
    plain = {name: [] for name in names}
    r1_steps = {name: [] for name in names}
    losses = {name: [] for name in names}
    for round_index in range(args.rounds):
        for name in names:
            trainer = trainers[name]
            # One R1 step per round: put the step counter on a multiple of the interval.
            trainer.step = trainer.options.r1_interval * (round_index + 1)
            times, r1_times, stats = time_steps(trainer, args.steps, time.process_time if args.cpu_time else time.perf_counter)
            plain[name] += times
            r1_steps[name] += r1_times
            losses[name] += stats
            print(f"round {round_index + 1} {name}: plain {statistics.median(times):.3f} s/step, "
                  f"R1 step {statistics.median(r1_times):.3f} s", flush=True)

    report = {"batch": args.batch, "network": dataclasses.asdict(network), "clock": "cpu" if args.cpu_time else "wall",
              "variants": {}}
    base_rate = None
    print(f"\n| variant | plain step (s) | R1 step (s) | amortised step (s) | images/s | vs {names[0]} | loss_d / loss_g |")
    print("| --- | --- | --- | --- | --- | --- | --- |")
    for name in names:
        interval = trainers[name].options.r1_interval
        step = statistics.median(plain[name])
        r1 = statistics.median(r1_steps[name])
        amortised = step + (r1 - step) / interval
        rate = args.batch / amortised
        base_rate = base_rate or rate
        loss_d = statistics.mean(s["loss_d"] for s in losses[name])
        loss_g = statistics.mean(s["loss_g"] for s in losses[name])
        report["variants"][name] = {"plain_s": step, "r1_step_s": r1, "amortised_s": amortised, "images_per_s": rate,
                                    "plain_all_s": plain[name], "r1_all_s": r1_steps[name],
                                    "loss_d": loss_d, "loss_g": loss_g}
        print(f"| {name} | {step:.3f} | {r1:.3f} | {amortised:.3f} | {rate:.1f} | {rate / base_rate:.2f}x | "
              f"{loss_d:.3f} / {loss_g:.3f} |")
    if args.out is not None:
        args.out.write_text(json.dumps(report, indent=1))


if __name__ == "__main__":
    ensure_malloc_tuning("training.train_speed")
    main()
