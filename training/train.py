"""Command line for training a drape garment generator, on the CPU or a CUDA GPU.

    python -m training.train --resolution 64 --batch 32 --steps 20000 --export models/clothing-64
    python -m training.train --resume training/runs/clothing/checkpoint.pt --steps 40000
"""

from __future__ import annotations

import argparse
from pathlib import Path

from training.config import GeneratorConfig
from training.runtime import ensure_malloc_tuning
from training.prepare import DEFAULT_DATASET
from training.trainer import DEFAULT_NAME, DEFAULT_RUN_DIR, DEFAULT_STEPS, TrainOptions, Trainer

DEFAULTS = TrainOptions()


def clamp_value(text: str) -> float | None:
    return None if text == "none" else float(text)


def parse_args(argv: list[str] | None = None) -> TrainOptions:
    network = DEFAULTS.network
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    data = parser.add_argument_group("data")
    data.add_argument("--data", type=Path, default=None,
                      help="photo dataset folder (prepared once and cached), a prepared .npy, or a folder of prepared "
                           f"JPEGs; default {DEFAULT_DATASET}")
    data.add_argument("--cache-dir", type=Path, default=DEFAULTS.cache_dir)
    data.add_argument("--workers", type=int, default=DEFAULTS.workers, help="processes for preparing the photos")
    data.add_argument("--no-mirror", dest="mirror", action="store_false", help="no random horizontal flips")
    net = parser.add_argument_group("network")
    net.add_argument("--resolution", type=int, default=network.img_resolution)
    net.add_argument("--z-dim", type=int, default=network.z_dim)
    net.add_argument("--w-dim", type=int, default=network.w_dim)
    net.add_argument("--mapping-layers", type=int, default=network.mapping_layers)
    net.add_argument("--channel-base", type=int, default=network.channel_base)
    net.add_argument("--channel-max", type=int, default=network.channel_max)
    net.add_argument("--conv-clamp", type=clamp_value, default=network.conv_clamp, help='a number or "none"')
    opt = parser.add_argument_group("optimisation")
    opt.add_argument("--batch", type=int, default=DEFAULTS.batch)
    opt.add_argument("--steps", type=int, default=None, help=f"total training iterations; default {DEFAULT_STEPS}")
    opt.add_argument("--lr-g", type=float, default=DEFAULTS.lr_g)
    opt.add_argument("--lr-d", type=float, default=DEFAULTS.lr_d)
    opt.add_argument("--r1-gamma", type=float, default=None, help="default 0.0002·R²/batch")
    opt.add_argument("--r1-interval", type=int, default=DEFAULTS.r1_interval)
    opt.add_argument("--ema-kimg", type=float, default=None, help="EMA half-life in thousands of images; default batch·10/32")
    opt.add_argument("--mixing-prob", type=float, default=DEFAULTS.mixing_prob)
    opt.add_argument("--augment", default=DEFAULTS.augment, help='DiffAugment policy, or "none"')
    opt.add_argument("--amp", action=argparse.BooleanOptionalAction, default=None,
                     help="bfloat16 autocast (default: on with CUDA GPUs and CPUs that compute bf16 natively)")
    opt.add_argument("--channels-last", action=argparse.BooleanOptionalAction, default=None,
                     help="channels-last memory format for the convolutions (default: on with the CPU)")
    opt.add_argument("--compile", action=argparse.BooleanOptionalAction, default=None,
                     help="torch.compile G and D for their G and D steps (R1 runs uncompiled)")
    opt.add_argument("--threads", type=int, default=None, help="torch CPU threads (default: torch's choice)")
    opt.add_argument("--d-width", type=float, default=DEFAULTS.d_width,
                     help="discriminator channels as a multiple of the generator's")
    opt.add_argument("--d-warmup", type=int, default=DEFAULTS.d_warmup,
                     help="D-only steps before training when starting from --init-from (G frozen)")
    opt.add_argument("--d-warmup-loss", type=float, default=None,
                     help="end the D warm-up early once D's loss, averaged over 20 steps, is below this")
    opt.add_argument("--seed", type=int, default=DEFAULTS.seed)
    opt.add_argument("--device", default=None, help="cpu or cuda; default cuda when present")
    run = parser.add_argument_group("run")
    run.add_argument("--run-dir", type=Path, default=None, help=f"default {DEFAULT_RUN_DIR}")
    run.add_argument("--sample-every", type=int, default=DEFAULTS.sample_every)
    run.add_argument("--checkpoint-every", type=int, default=DEFAULTS.checkpoint_every)
    run.add_argument("--log-every", type=int, default=DEFAULTS.log_every)
    run.add_argument("--export-every", type=int, default=None,
                     help="also export the EMA generator every N steps to <run>/exports/step-N (for measuring)")
    run.add_argument("--resume", type=Path, default=None,
                     help="checkpoint to continue exactly; settings not given here come from it")
    run.add_argument("--init-from", type=Path, default=None,
                     help="checkpoint of another run (e.g. a lower resolution) whose matching layers start this one, "
                          "or a model folder / generator.safetensors to continue (G and G_ema from it, fresh D)")
    run.add_argument("--export", type=Path, default=None, help="model folder to write the EMA generator to at the end")
    run.add_argument("--f16", dest="export_dtype", action="store_const", const="f16", default=None,
                     help="export float16 tensors (default float32)")
    run.add_argument("--name", default=None, help=f"model name; default {DEFAULT_NAME}")
    run.add_argument("--description", default=None, help="model description for the card and metadata")
    args = parser.parse_args(argv)
    config = GeneratorConfig(img_resolution=args.resolution, z_dim=args.z_dim, w_dim=args.w_dim,
                             mapping_layers=args.mapping_layers, channel_base=args.channel_base,
                             channel_max=args.channel_max, conv_clamp=args.conv_clamp)
    return TrainOptions(
        network=config, data=args.data, run_dir=args.run_dir, cache_dir=args.cache_dir, workers=args.workers,
        batch=args.batch, steps=args.steps, lr_g=args.lr_g, lr_d=args.lr_d, r1_gamma=args.r1_gamma,
        r1_interval=args.r1_interval, ema_kimg=args.ema_kimg, mixing_prob=args.mixing_prob, augment=args.augment,
        mirror=args.mirror, amp=args.amp, channels_last=args.channels_last, compile=args.compile,
        threads=args.threads, d_width=args.d_width, d_warmup=args.d_warmup, d_warmup_loss=args.d_warmup_loss, seed=args.seed, device=args.device, sample_every=args.sample_every,
        checkpoint_every=args.checkpoint_every, export_every=args.export_every, log_every=args.log_every, resume=args.resume,
        init_from=args.init_from, export=args.export, export_dtype=args.export_dtype, name=args.name, description=args.description)


def main(argv: list[str] | None = None) -> None:
    Trainer(parse_args(argv)).run()


if __name__ == "__main__":
    ensure_malloc_tuning("training.train")
    main()
