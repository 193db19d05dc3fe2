"""The StyleGAN2 training loop: alternating G and D steps, lazy R1, EMA generator, samples, checkpoints, export."""

from __future__ import annotations

import copy
import dataclasses
import json
import signal
import threading
import time
from contextlib import nullcontext
from dataclasses import dataclass, field
from pathlib import Path

import torch

from training.augment import parse_policy
from training.checkpoint import CHECKPOINT_FILE, load_checkpoint, restore_rng_states, rng_states, save_checkpoint
from training.config import GeneratorConfig
from training.discriminator import Discriminator
from training.generator import Generator
from training.image_data import DEFAULT_CACHE_DIR, BatchSampler, load_training_images
from training.images import save_grid
from training.losses import discriminator_loss, generator_loss, r1_penalty
from training.model_card import model_card
from training.model_format import DISCRIMINATOR_FILE, WEIGHTS_FILE, read_metadata, save_model
from training.safetensors_io import read_safetensors
from training.prepare import DEFAULT_DATASET
from training.runtime import configure_torch, select_device
from training.seeds import z_from_seeds

ADAM_BETAS = (0.0, 0.99)
ADAM_EPS = 1e-8
SAMPLE_SEEDS = 32
WARMUP_WINDOW = 20
# CPUs with native bfloat16 train under bf16 autocast by default (training/README.md has the measurements).
CPU_AMP_DEFAULT = True

DEFAULT_RUN_DIR = Path("training/runs/clothing")
DEFAULT_STEPS = 10_000
DEFAULT_NAME = "drape-clothing"
DEFAULT_DESCRIPTION = "A StyleGAN2 garment generator trained by drape on the clothing photo dataset."

# Operational settings that a resumed run may change where they are given (not None); everything else,
# the network and the loss settings included, comes from the checkpoint.
RESUMABLE_OVERRIDES = ("steps", "run_dir", "data", "cache_dir", "workers", "sample_every", "checkpoint_every",
                       "log_every", "export", "export_dtype", "name", "description", "device", "amp",
                       "channels_last", "compile", "threads", "export_every")


@dataclass
class TrainOptions:
    """Every setting of a training run (the defaults follow stylegan2-ada's 'auto' configuration).

    None means "not chosen": the checkpoint's value when resuming, else the DEFAULT_* value (or automatic).
    """

    network: GeneratorConfig = field(default_factory=lambda: GeneratorConfig(
        img_resolution=64, mapping_layers=2, conv_clamp=256))
    data: Path | None = None
    run_dir: Path | None = None
    cache_dir: Path = DEFAULT_CACHE_DIR
    workers: int = 1
    batch: int = 32
    steps: int | None = None
    lr_g: float = 0.0025
    lr_d: float = 0.0025
    r1_gamma: float | None = None
    r1_interval: int = 16
    ema_kimg: float | None = None
    ema_rampup: float | None = 0.05
    mixing_prob: float = 0.9
    augment: str = "color,translation,cutout"
    mirror: bool = True
    amp: bool | None = None
    channels_last: bool | None = None
    compile: bool | None = None
    threads: int | None = None
    d_width: float = 1.0
    d_warmup: int = 0
    d_warmup_loss: float | None = None
    seed: int = 0
    device: str | None = None
    sample_every: int = 500
    checkpoint_every: int = 1000
    export_every: int | None = None
    log_every: int = 10
    resume: Path | None = None
    init_from: Path | None = None
    export: Path | None = None
    export_dtype: str | None = None
    name: str | None = None
    description: str | None = None

    @property
    def effective_r1_gamma(self) -> float:
        """stylegan2-ada's heuristic 0.0002·R²/batch unless set."""
        if self.r1_gamma is not None:
            return self.r1_gamma
        return 0.0002 * self.network.img_resolution**2 / self.batch

    @property
    def effective_ema_kimg(self) -> float:
        """stylegan2-ada's batch·10/32 thousand images unless set."""
        return self.ema_kimg if self.ema_kimg is not None else self.batch * 10 / 32

    def with_defaults(self) -> TrainOptions:
        return dataclasses.replace(self, data=self.data or DEFAULT_DATASET, run_dir=self.run_dir or DEFAULT_RUN_DIR,
                                   steps=DEFAULT_STEPS if self.steps is None else self.steps,
                                   name=self.name or DEFAULT_NAME, description=self.description or DEFAULT_DESCRIPTION,
                                   export_dtype=self.export_dtype or "f32")

    def to_dict(self) -> dict:
        values = dataclasses.asdict(self)
        return {key: str(value) if isinstance(value, Path) else value for key, value in values.items()}

    @classmethod
    def from_dict(cls, values: dict) -> TrainOptions:
        values = dict(values)
        values["network"] = GeneratorConfig(**values["network"])
        for key, kind in cls.__annotations__.items():
            if "Path" in str(kind) and values.get(key) is not None:
                values[key] = Path(values[key])
        return cls(**values)


def training_facts(options: TrainOptions, step: int, images_seen: int, dataset_size: int) -> dict[str, str]:
    facts = {
        "training_steps": str(step),
        "training_images_seen": str(images_seen),
        "training_batch": str(options.batch),
        "training_dataset": f"{options.data.name} ({dataset_size} prepared garment photos)",
        "training_augment": options.augment or "none",
    }
    if options.init_from is not None and is_model(options.init_from):
        folder = options.init_from if options.init_from.is_dir() else options.init_from.parent
        shipped = (folder / DISCRIMINATOR_FILE).exists()
        facts["training_init_from"] = (f"the generator of {folder.name} "
                                       f"({'its shipped' if shipped else 'fresh'} discriminator)")
    elif options.init_from is not None:
        facts["training_init_from"] = f"matching layers of {options.init_from.parent.name}/{options.init_from.name}"
    return facts


def export_model(generator: Generator, options: TrainOptions, facts: dict[str, str], folder: Path, dtype: str,
                 name: str | None = None) -> Path:
    """Writes a trained generator as a model folder: facts and the run's name/description in metadata and card."""
    name = name or options.name
    card = model_card(name, options.description, options.network, facts)
    return save_model(generator, folder, card, dtype, {"name": name, "description": options.description, **facts})


def is_model(path: Path) -> bool:
    """A model folder or a generator.safetensors (as opposed to a training checkpoint)."""
    path = Path(path)
    return path.is_dir() or path.suffix == ".safetensors"


def cpu_has_bf16() -> bool:
    """Native bfloat16 arithmetic (AVX512-BF16 or AMX) on Linux, where oneDNN makes bf16 convolutions fast."""
    try:
        flags = Path("/proc/cpuinfo").read_text()
    except OSError:
        return False
    return " avx512_bf16" in flags or " amx_bf16" in flags


def default_amp(device: torch.device) -> bool:
    """bfloat16 autocast where the hardware computes it natively: CUDA GPUs with bf16, CPUs with AVX512-BF16/AMX."""
    if device.type == "cuda":
        return torch.cuda.is_bf16_supported()
    return device.type == "cpu" and CPU_AMP_DEFAULT and cpu_has_bf16()


class StopSignals:
    """While active, SIGTERM and SIGINT (a scheduler's preemption, `kill`, Ctrl-C) ask the run to stop after the
    step in progress, with a checkpoint, so that `--resume` continues exactly; a second signal stops at once."""

    SIGNALS = (signal.SIGTERM, signal.SIGINT)

    def __init__(self) -> None:
        self.requested: str | None = None
        self.previous: dict = {}

    def __enter__(self) -> StopSignals:
        if threading.current_thread() is threading.main_thread():
            self.previous = {number: signal.signal(number, self.handle) for number in self.SIGNALS}
        return self

    def __exit__(self, *exc) -> None:
        for number, handler in self.previous.items():
            signal.signal(number, handler)

    def handle(self, number: int, frame) -> None:
        if self.requested is not None:
            raise KeyboardInterrupt
        self.requested = signal.Signals(number).name
        print(f"{self.requested}: stopping after this step with a checkpoint (send it again to stop at once)",
              flush=True)


class Trainer:
    """Holds the networks, optimizers and counters of one run; `run()` trains up to `options.steps`."""

    def __init__(self, options: TrainOptions) -> None:
        checkpoint = None
        if options.resume is not None:
            checkpoint = load_checkpoint(options.resume)
            saved = TrainOptions.from_dict(checkpoint["options"])
            given = {key: getattr(options, key) for key in RESUMABLE_OVERRIDES if getattr(options, key) is not None}
            options = dataclasses.replace(saved, resume=options.resume, **given)
        options = options.with_defaults()
        self.options = options
        self.device = select_device(options.device)
        configure_torch(self.device)
        if options.threads is not None:
            torch.set_num_threads(options.threads)
        self.use_amp = options.amp if options.amp is not None else default_amp(self.device)
        channels_last = options.channels_last if options.channels_last is not None else self.device.type == "cpu"
        self.memory_format = torch.channels_last if channels_last else torch.contiguous_format
        self.policy = parse_policy(options.augment)

        torch.manual_seed(options.seed)
        self.G = Generator(options.network).to(self.device, memory_format=self.memory_format).train()
        self.D = Discriminator(options.network, options.d_width).to(self.device, memory_format=self.memory_format)
        self.D.train()
        self.G_ema = copy.deepcopy(self.G).eval().requires_grad_(False)
        reg_ratio = options.r1_interval / (options.r1_interval + 1)
        self.opt_G = torch.optim.Adam(self.G.parameters(), lr=options.lr_g, betas=ADAM_BETAS, eps=ADAM_EPS)
        self.opt_D = torch.optim.Adam(self.D.parameters(), lr=options.lr_d * reg_ratio,
                                      betas=tuple(beta**reg_ratio for beta in ADAM_BETAS), eps=ADAM_EPS)
        images = load_training_images(options.data, options.network.img_resolution, options.cache_dir, options.workers)
        self.sampler = BatchSampler(images, options.batch, options.seed, options.mirror)
        self.step = 0
        self.images_seen = 0
        self.sample_z = torch.from_numpy(z_from_seeds(list(range(SAMPLE_SEEDS)), options.network.z_dim))
        self.d_warmup_left = 0
        self.d_warmup_losses: list[float] = []
        self.shipped_discriminator = False
        if checkpoint is not None:
            self.load_state(checkpoint)
        elif options.init_from is not None and is_model(options.init_from):
            self.copied_tensors = self.init_from_model(options.init_from)
            # A shipped discriminator already knows this generator; a fresh one first trains alone.
            self.d_warmup_left = 0 if self.shipped_discriminator else options.d_warmup
        elif options.init_from is not None:
            self.copied_tensors = self.init_weights_from(load_checkpoint(options.init_from))
            self.d_warmup_left = options.d_warmup
        # G and D steps run D through D_train (compiled when asked); R1's double backward needs the plain D.
        # G's synthesis network is compiled in place (the losses call G.mapping and G.synthesis, not G).
        self.D_train = torch.compile(self.D) if options.compile else self.D
        if options.compile:
            self.G.synthesis.compile()

    def init_from_model(self, path: Path) -> int:
        """Continues a shipped model (a model folder or its generator.safetensors): its weights start G and G_ema,
        D starts from the model's discriminator.safetensors when it ships one of the same width (else fresh), and
        the step and image counters continue from the training facts in its metadata."""
        path = path / WEIGHTS_FILE if path.is_dir() else path
        self.shipped_discriminator = self.load_shipped_discriminator(path.parent / DISCRIMINATOR_FILE)
        tensors, metadata = read_safetensors(path)
        if GeneratorConfig.from_metadata(metadata) != self.options.network:
            raise ValueError(f"{path} holds a different network than the one asked for: "
                             f"{GeneratorConfig.from_metadata(metadata)}")
        state = {name: tensor.to(torch.float32) for name, tensor in tensors.items()}
        self.G.load_state_dict(state, strict=True)
        self.G_ema.load_state_dict(state, strict=True)
        self.step = int(metadata.get("training_steps", 0))
        self.images_seen = int(metadata.get("training_images_seen", 0))
        return len(state)

    def load_shipped_discriminator(self, path: Path) -> bool:
        """Loads D from a shipped float16 discriminator when there is one for this network and D width."""
        if not path.exists():
            return False
        tensors, metadata = read_safetensors(path)
        if float(metadata.get("d_width", "nan")) != self.options.d_width:
            raise ValueError(f"{path} is a discriminator of width {metadata.get('d_width')}, not the "
                             f"{self.options.d_width} asked for (--d-width)")
        try:
            self.D.load_state_dict({name: tensor.to(torch.float32) for name, tensor in tensors.items()}, strict=True)
        except RuntimeError as error:
            raise ValueError(f"{path} does not fit this network's discriminator: {error}") from error
        return True

    def init_weights_from(self, state: dict) -> int:
        """Starts a new run from another run's weights: every tensor of G, G_ema and D whose name and shape match.

        A 64 px network with the same channel formula as a 32 px one inherits all of its 4–32 px layers and
        mapping; only the new top block (and D's new input block) start fresh. Optimizer state is not copied.
        """
        copied = 0
        for name in ("G", "G_ema", "D"):
            net = getattr(self, name)
            own = net.state_dict()
            matching = {key: value for key, value in state[name].items()
                        if key in own and own[key].shape == value.shape}
            net.load_state_dict(matching, strict=False)
            copied += len(matching)
        return copied

    def autocast(self):
        if self.use_amp:
            return torch.autocast(device_type=self.device.type, dtype=torch.bfloat16)
        return nullcontext()

    def discriminator_warmup_step(self) -> dict[str, float]:
        """A D step alone (G frozen): after a fresh D meets a trained G, D learns before G follows its gradients."""
        options = self.options
        real = self.sampler.next_batch(self.device).contiguous(memory_format=self.memory_format)
        self.G.requires_grad_(False)
        self.D.requires_grad_(True)
        with self.autocast():
            loss_d, fake_logit, real_logit = discriminator_loss(
                self.G, self.D_train, torch.randn(options.batch, options.network.z_dim, device=self.device),
                real, options.mixing_prob, self.policy, self.memory_format)
        self.opt_D.zero_grad(set_to_none=True)
        loss_d.backward()
        self.opt_D.step()
        self.d_warmup_left -= 1
        return {"loss_d": loss_d.item(), "logit_fake": fake_logit.item(), "logit_real": real_logit.item()}

    def train_step(self) -> dict[str, float]:
        """One iteration: G step, D step, and every r1_interval steps an R1 step; then the EMA update."""
        options = self.options
        real = self.sampler.next_batch(self.device).contiguous(memory_format=self.memory_format)
        z_dim = options.network.z_dim

        self.G.requires_grad_(True)
        self.D.requires_grad_(False)
        with self.autocast():
            loss_g = generator_loss(self.G, self.D_train, torch.randn(options.batch, z_dim, device=self.device),
                                    options.mixing_prob, self.policy, self.memory_format)
        self.opt_G.zero_grad(set_to_none=True)
        loss_g.backward()
        self.opt_G.step()

        self.G.requires_grad_(False)
        self.D.requires_grad_(True)
        with self.autocast():
            loss_d, fake_logit, real_logit = discriminator_loss(
                self.G, self.D_train, torch.randn(options.batch, z_dim, device=self.device), real,
                options.mixing_prob, self.policy, self.memory_format)
        self.opt_D.zero_grad(set_to_none=True)
        loss_d.backward()
        self.opt_D.step()

        stats = {"loss_g": loss_g.item(), "loss_d": loss_d.item(), "logit_fake": fake_logit.item(),
                 "logit_real": real_logit.item()}
        if self.step % options.r1_interval == 0:
            penalty = r1_penalty(self.D, real, self.policy)
            self.opt_D.zero_grad(set_to_none=True)
            (penalty * (options.effective_r1_gamma / 2) * options.r1_interval).backward()
            self.opt_D.step()
            stats["r1"] = penalty.item()

        self.update_ema()
        self.step += 1
        self.images_seen += options.batch
        return stats

    @torch.no_grad()
    def update_ema(self) -> None:
        """G_ema ← G + β·(G_ema − G) with stylegan2-ada's half-life in images and ramp-up; buffers are copied."""
        ema_images = self.options.effective_ema_kimg * 1000
        if self.options.ema_rampup is not None:
            ema_images = min(ema_images, self.images_seen * self.options.ema_rampup)
        beta = 0.5 ** (self.options.batch / max(ema_images, 1e-8))
        for p_ema, p in zip(self.G_ema.parameters(), self.G.parameters(), strict=True):
            p_ema.copy_(p.detach().lerp(p_ema, beta))
        for b_ema, b in zip(self.G_ema.buffers(), self.G.buffers(), strict=True):
            b_ema.copy_(b)

    def state_dict(self) -> dict:
        return {
            "options": self.options.to_dict(),
            "step": self.step,
            "images_seen": self.images_seen,
            "G": self.G.state_dict(),
            "D": self.D.state_dict(),
            "G_ema": self.G_ema.state_dict(),
            "opt_G": self.opt_G.state_dict(),
            "opt_D": self.opt_D.state_dict(),
            "sampler": self.sampler.state_dict(),
            "dataset_size": len(self.sampler.images),
            "rng": rng_states(),
            "d_warmup_left": self.d_warmup_left,
            "d_warmup_losses": list(self.d_warmup_losses),
        }

    def load_state(self, state: dict) -> None:
        self.step = state["step"]
        self.images_seen = state["images_seen"]
        self.G.load_state_dict(state["G"])
        self.D.load_state_dict(state["D"])
        self.G_ema.load_state_dict(state["G_ema"])
        self.opt_G.load_state_dict(state["opt_G"])
        self.opt_D.load_state_dict(state["opt_D"])
        self.sampler.load_state_dict(state["sampler"])
        restore_rng_states(state["rng"])
        self.d_warmup_left = state.get("d_warmup_left", 0)
        self.d_warmup_losses = list(state.get("d_warmup_losses", []))

    @torch.no_grad()
    def save_samples(self) -> Path:
        """A grid of G_ema images for the fixed sample seeds, with constant noise and no truncation."""
        z = self.sample_z.to(self.device)
        images = torch.cat([self.G_ema(chunk, noise_mode="const") for chunk in z.split(self.options.batch)])
        path = self.options.run_dir / "samples" / f"step-{self.step:07d}.png"
        save_grid(images, path, columns=8)
        return path

    def export(self, folder: Path) -> Path:
        """Writes G_ema in the model format, with the training facts in the metadata and the model card."""
        facts = training_facts(self.options, self.step, self.images_seen, len(self.sampler.images))
        return export_model(self.G_ema, self.options, facts, folder, self.options.export_dtype)

    def log(self, stats: dict[str, float], seconds_per_step: float) -> None:
        record = {"step": self.step, "images_seen": self.images_seen, **stats,
                  "sec_per_step": seconds_per_step, "images_per_sec": self.options.batch / seconds_per_step}
        self.options.run_dir.mkdir(parents=True, exist_ok=True)
        with open(self.options.run_dir / "log.jsonl", "a") as handle:
            handle.write(json.dumps(record) + "\n")
        print(" ".join(f"{k}={v:.4g}" if isinstance(v, float) else f"{k}={v}" for k, v in record.items()), flush=True)

    def run(self) -> None:
        """Trains up to `options.steps`, or until SIGTERM/SIGINT; either way it ends with a checkpoint."""
        with StopSignals() as stop:
            self.train_until(stop)
        save_checkpoint(self.state_dict(), self.options.run_dir / CHECKPOINT_FILE)
        self.save_samples()
        if stop.requested is not None:
            print(f"stopped by {stop.requested} at step {self.step}; continue with --resume "
                  f"{self.options.run_dir / CHECKPOINT_FILE}", flush=True)
        elif self.options.export is not None:
            self.export(self.options.export)

    def train_until(self, stop: StopSignals) -> None:
        options = self.options
        window_seconds, window_steps = 0.0, 0
        while self.d_warmup_left > 0 and stop.requested is None:
            start = time.perf_counter()
            stats = self.discriminator_warmup_step()
            self.d_warmup_losses = (self.d_warmup_losses + [stats["loss_d"]])[-WARMUP_WINDOW:]
            mean_loss = sum(self.d_warmup_losses) / len(self.d_warmup_losses)
            if self.d_warmup_left % options.log_every == 0:
                print(f"discriminator warm-up: {self.d_warmup_left} steps left, mean loss_d {mean_loss:.4g}, "
                      + " ".join(f"{k}={v:.4g}" for k, v in stats.items())
                      + f" sec_per_step={time.perf_counter() - start:.3g}", flush=True)
            if (options.d_warmup_loss is not None and len(self.d_warmup_losses) == WARMUP_WINDOW
                    and mean_loss < options.d_warmup_loss):
                print(f"discriminator warm-up done: mean loss_d {mean_loss:.4g} over {WARMUP_WINDOW} steps", flush=True)
                self.d_warmup_left = 0
            if self.d_warmup_left > 0 and self.d_warmup_left % options.checkpoint_every == 0:
                save_checkpoint(self.state_dict(), options.run_dir / CHECKPOINT_FILE)
        while self.step < options.steps and stop.requested is None:
            start = time.perf_counter()
            stats = self.train_step()
            window_seconds += time.perf_counter() - start
            window_steps += 1
            if self.step % options.log_every == 0 or self.step == options.steps:
                self.log(stats, window_seconds / window_steps)
                window_seconds, window_steps = 0.0, 0
            if self.step % options.sample_every == 0:
                self.save_samples()
            if self.step % options.checkpoint_every == 0 and self.step < options.steps:
                save_checkpoint(self.state_dict(), options.run_dir / CHECKPOINT_FILE)
            if options.export_every and self.step % options.export_every == 0:
                self.export(options.run_dir / "exports" / f"step-{self.step:07d}")
