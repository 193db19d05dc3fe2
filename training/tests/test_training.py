"""A few training steps of a tiny configuration on the CPU: finite losses, outputs, and exact resumption."""

import dataclasses
import os
import signal

import numpy as np
import torch

from training.checkpoint import CHECKPOINT_FILE, load_checkpoint
from training.config import GeneratorConfig
from training.export import export_checkpoint
from training.model_format import DISCRIMINATOR_FILE, load_generator, read_metadata
from training.safetensors_io import write_safetensors
from training.train import parse_args
from training.trainer import TrainOptions, Trainer, training_facts

TINY = GeneratorConfig(img_resolution=16, z_dim=8, w_dim=8, mapping_layers=2, channel_base=128, channel_max=16,
                       conv_clamp=256)


def tiny_options(tmp_path, run: str, steps: int, **changes) -> TrainOptions:
    data = tmp_path / "images.npy"
    if not data.exists():
        np.save(data, np.random.RandomState(0).randint(0, 256, size=(12, 16, 16, 3), dtype=np.uint8))
    values = dict(network=TINY, data=data, run_dir=tmp_path / run, batch=4, steps=steps, r1_interval=2,
                  sample_every=3, checkpoint_every=100, log_every=1, device="cpu", seed=3)
    values.update(changes)
    return TrainOptions(**values)


def assert_same(a, b, path="state"):
    """Recursively bit-identical: tensors, dicts, lists and plain values."""
    if isinstance(a, torch.Tensor):
        assert isinstance(b, torch.Tensor) and a.dtype == b.dtype and torch.equal(a, b), path
    elif isinstance(a, dict):
        assert a.keys() == b.keys(), path
        for key in a:
            assert_same(a[key], b[key], f"{path}.{key}")
    elif isinstance(a, (list, tuple)):
        assert len(a) == len(b), path
        for i, (x, y) in enumerate(zip(a, b)):
            assert_same(x, y, f"{path}[{i}]")
    else:
        assert a == b, path


def test_training_steps_are_finite_and_produce_outputs(tmp_path):
    trainer = Trainer(tiny_options(tmp_path, "run", steps=3, export=tmp_path / "model", export_dtype="f16"))
    before = {k: v.clone() for k, v in trainer.G.state_dict().items()}
    trainer.run()
    log = (tmp_path / "run" / "log.jsonl").read_text().splitlines()
    assert len(log) == 3 and '"r1"' in log[0] and '"r1"' not in log[1]
    state = load_checkpoint(tmp_path / "run" / CHECKPOINT_FILE)
    assert state["step"] == 3 and state["images_seen"] == 12
    for line in log:
        assert "NaN" not in line and "Infinity" not in line
    changed = [k for k, v in trainer.G.state_dict().items() if not torch.equal(v, before[k])]
    assert "mapping.fc0.weight" in changed and "synthesis.b16.conv1.weight" in changed and "mapping.w_avg" in changed
    assert (tmp_path / "run" / "samples" / "step-0000003.png").exists()
    generator = load_generator(tmp_path / "model")
    assert read_metadata(tmp_path / "model" / "generator.safetensors")["training_images_seen"] == "12"
    with torch.no_grad():
        assert torch.isfinite(generator(torch.randn(2, 8))).all()
    export_checkpoint(tmp_path / "run" / CHECKPOINT_FILE, tmp_path / "again", "f32")
    for name, tensor in load_generator(tmp_path / "again").state_dict().items():
        assert torch.equal(tensor, trainer.G_ema.state_dict()[name]), name


def test_resumed_training_continues_bit_identically(tmp_path):
    Trainer(tiny_options(tmp_path, "first-half", steps=2)).run()
    unchanged = Trainer(TrainOptions(resume=tmp_path / "first-half" / CHECKPOINT_FILE, batch=64, device="cpu"))
    assert unchanged.options.run_dir == tmp_path / "first-half" and unchanged.options.steps == 2
    assert unchanged.options.batch == 4 and unchanged.options.network == TINY
    resumed = Trainer(tiny_options(tmp_path, "resumed", steps=5, resume=tmp_path / "first-half" / CHECKPOINT_FILE))
    assert resumed.step == 2
    resumed.run()
    straight = Trainer(tiny_options(tmp_path, "straight", steps=5))
    straight.run()
    a = load_checkpoint(tmp_path / "resumed" / CHECKPOINT_FILE)
    b = load_checkpoint(tmp_path / "straight" / CHECKPOINT_FILE)
    assert a.pop("options")["run_dir"] != b.pop("options")["run_dir"]
    assert_same(a, b)
    # Sanity: the state really depends on the seed, so the comparison above can fail.
    other = Trainer(tiny_options(tmp_path, "other", steps=1, seed=4))
    other.run()
    assert not torch.equal(other.G.mapping.fc0.weight, straight.G.mapping.fc0.weight)


def test_bfloat16_autocast_steps_are_finite(tmp_path, monkeypatch):
    """The CUDA mixed-precision path, exercised with CPU autocast: every dtype meets its match."""
    trainer = Trainer(tiny_options(tmp_path, "bf16", steps=2))
    monkeypatch.setattr(trainer, "autocast", lambda: torch.autocast(device_type="cpu", dtype=torch.bfloat16))
    trainer.run()
    assert trainer.G.mapping.w_avg.dtype == torch.float32
    assert all(torch.isfinite(p).all() for p in trainer.G_ema.parameters())


def test_command_line_builds_options():
    options = parse_args(["--resolution", "32", "--batch", "8", "--conv-clamp", "none", "--f16", "--no-mirror",
                          "--data", "x.npy"])
    assert options.network.img_resolution == 32 and options.network.conv_clamp is None
    assert options.batch == 8 and options.export_dtype == "f16" and not options.mirror
    assert options.effective_r1_gamma == 0.0002 * 32**2 / 8 and options.effective_ema_kimg == 2.5
    assert TrainOptions.from_dict(options.to_dict()) == options


def test_init_from_copies_every_matching_layer_of_a_lower_resolution_run(tmp_path):
    Trainer(tiny_options(tmp_path, "low", steps=1)).run()
    low = load_checkpoint(tmp_path / "low" / CHECKPOINT_FILE)
    high_config = dataclasses.replace(TINY, img_resolution=32)
    data = tmp_path / "images-32.npy"
    np.save(data, np.random.RandomState(1).randint(0, 256, size=(12, 32, 32, 3), dtype=np.uint8))
    high = Trainer(tiny_options(tmp_path, "high", steps=1, network=high_config, data=data,
                                init_from=tmp_path / "low" / CHECKPOINT_FILE))
    assert high.step == 0 and high.copied_tensors > 0
    for name in ("G", "G_ema", "D"):
        own = getattr(high, name).state_dict()
        for key, value in low[name].items():
            if key in own and own[key].shape == value.shape:
                assert torch.equal(own[key], value), f"{name}.{key}"
    g = high.G.state_dict()
    assert torch.equal(g["synthesis.b16.conv1.weight"], low["G"]["synthesis.b16.conv1.weight"])
    assert "synthesis.b32.conv1.weight" in g and "synthesis.b32.conv1.weight" not in low["G"]
    assert "b16.fromrgb.weight" in low["D"] and "b16.fromrgb.weight" not in high.D.state_dict()
    assert torch.equal(high.D.state_dict()["b16.conv0.weight"], low["D"]["b16.conv0.weight"])
    facts = training_facts(high.options, 0, 0, 12)
    assert facts["training_init_from"] == f"matching layers of low/{CHECKPOINT_FILE}"


def test_init_from_a_model_continues_its_generator_with_a_fresh_discriminator(tmp_path):
    Trainer(tiny_options(tmp_path, "first", steps=3, export=tmp_path / "model")).run()
    shipped = load_generator(tmp_path / "model").state_dict()
    fresh = Trainer(tiny_options(tmp_path, "fresh", steps=4))
    for source in (tmp_path / "model", tmp_path / "model" / "generator.safetensors"):
        continued = Trainer(tiny_options(tmp_path, "continued", steps=5, init_from=source, d_warmup=2))
        assert continued.step == 3 and continued.images_seen == 12 and continued.d_warmup_left == 2
        for name in ("G", "G_ema"):
            for key, value in getattr(continued, name).state_dict().items():
                assert torch.equal(value, shipped[key]), f"{name}.{key}"
        assert_same(continued.D.state_dict(), fresh.D.state_dict())
    g_before = {k: v.clone() for k, v in continued.G.state_dict().items()}
    d_before = {k: v.clone() for k, v in continued.D.state_dict().items()}
    continued.discriminator_warmup_step()
    assert continued.step == 3 and continued.d_warmup_left == 1
    assert all(torch.equal(v, g_before[k]) for k, v in continued.G.state_dict().items() if k != "mapping.w_avg")
    assert not torch.equal(continued.D.state_dict()["b16.conv0.weight"], d_before["b16.conv0.weight"])
    continued.run()
    assert continued.step == 5 and continued.images_seen == 20 and continued.d_warmup_left == 0
    facts = training_facts(continued.options, 5, 20, 12)
    assert facts["training_init_from"] == "the generator of model (fresh discriminator)"
    other = dataclasses.replace(TINY, channel_max=8)
    try:
        Trainer(tiny_options(tmp_path, "wrong", steps=1, network=other, init_from=tmp_path / "model"))
    except ValueError as error:
        assert "different network" in str(error)
    else:
        raise AssertionError("a model of another network was accepted")


def test_a_model_shipped_with_its_discriminator_continues_with_it(tmp_path):
    first = Trainer(tiny_options(tmp_path, "first", steps=3))
    first.run()
    export_checkpoint(tmp_path / "first" / CHECKPOINT_FILE, tmp_path / "model", "f32", discriminator=True)
    continued = Trainer(tiny_options(tmp_path, "continued", steps=5, init_from=tmp_path / "model", d_warmup=2))
    assert continued.shipped_discriminator and continued.d_warmup_left == 0, "no warm-up for a shipped D"
    for key, value in first.D.state_dict().items():
        assert torch.equal(continued.D.state_dict()[key], value.to(torch.float16).to(torch.float32)), key
    assert not torch.equal(first.D.state_dict()["b16.conv0.weight"], Trainer(
        tiny_options(tmp_path, "fresh", steps=1)).D.state_dict()["b16.conv0.weight"]), "D trained away from init"
    facts = training_facts(continued.options, 5, 20, 12)
    assert facts["training_init_from"] == "the generator of model (its shipped discriminator)"
    continued.run()
    assert continued.step == 5
    try:
        Trainer(tiny_options(tmp_path, "narrow", steps=1, init_from=tmp_path / "model", d_width=0.5))
    except ValueError as error:
        assert "width" in str(error)
    else:
        raise AssertionError("a discriminator of another width was accepted")
    wrong = tmp_path / "wrong"
    export_checkpoint(tmp_path / "first" / CHECKPOINT_FILE, wrong, "f32")
    write_safetensors(wrong / DISCRIMINATOR_FILE, {"b16.conv0.weight": torch.zeros(1)}, {"d_width": "1.0"})
    try:
        Trainer(tiny_options(tmp_path, "wrong-run", steps=1, init_from=wrong))
    except ValueError as error:
        assert "does not fit" in str(error) and str(wrong / DISCRIMINATOR_FILE) in str(error)
    else:
        raise AssertionError("a discriminator of another shape was accepted")


def test_cpu_speed_options_train_and_resume_exactly(tmp_path):
    """bfloat16 autocast, channels-last and a narrower D on the CPU: finite, and resumed runs stay exact."""
    fast = dict(amp=True, channels_last=True, d_width=0.5, threads=1)
    Trainer(tiny_options(tmp_path, "first-half", steps=2, **fast)).run()
    resumed = Trainer(tiny_options(tmp_path, "resumed", steps=4, resume=tmp_path / "first-half" / CHECKPOINT_FILE))
    assert resumed.use_amp and resumed.options.d_width == 0.5
    assert resumed.D.b4.fc.weight.shape[1] == 8 * 16  # C(4) = 16 channels, halved
    resumed.run()
    straight = Trainer(tiny_options(tmp_path, "straight", steps=4, **fast))
    straight.run()
    a = load_checkpoint(tmp_path / "resumed" / CHECKPOINT_FILE)
    b = load_checkpoint(tmp_path / "straight" / CHECKPOINT_FILE)
    a.pop("options"), b.pop("options")
    assert_same(a, b)
    assert all(torch.isfinite(p).all() for p in straight.G_ema.parameters())
    assert all(p.dtype == torch.float32 for p in straight.G.parameters())


def test_discriminator_warmup_ends_early_once_its_loss_is_low(tmp_path, capsys):
    Trainer(tiny_options(tmp_path, "first", steps=1, export=tmp_path / "model")).run()
    trainer = Trainer(tiny_options(tmp_path, "continued", steps=2, init_from=tmp_path / "model", d_warmup=50,
                                   d_warmup_loss=100.0, log_every=1000))
    calls = []
    step = trainer.discriminator_warmup_step
    trainer.discriminator_warmup_step = lambda: calls.append(1) or step()
    trainer.run()
    assert len(calls) == 20 and trainer.d_warmup_left == 0 and trainer.step == 2
    assert "discriminator warm-up done" in capsys.readouterr().out


def test_a_run_interrupted_in_the_discriminator_warmup_resumes_exactly(tmp_path):
    Trainer(tiny_options(tmp_path, "first", steps=1, export=tmp_path / "model")).run()
    options = dict(steps=3, init_from=tmp_path / "model", d_warmup=4, d_warmup_loss=0.0, checkpoint_every=2)
    Trainer(tiny_options(tmp_path, "straight", **options)).run()
    interrupted = Trainer(tiny_options(tmp_path, "resumed", **options))
    step = interrupted.discriminator_warmup_step
    calls = []

    def warmup_step_then_stop():
        if len(calls) == 3:
            raise KeyboardInterrupt
        calls.append(1)
        return step()

    interrupted.discriminator_warmup_step = warmup_step_then_stop
    try:
        interrupted.run()
    except KeyboardInterrupt:
        pass
    saved = load_checkpoint(tmp_path / "resumed" / CHECKPOINT_FILE)
    assert saved["d_warmup_left"] == 2 and len(saved["d_warmup_losses"]) == 2 and saved["step"] == 1
    resumed = Trainer(tiny_options(tmp_path, "resumed", steps=3, resume=tmp_path / "resumed" / CHECKPOINT_FILE))
    assert resumed.d_warmup_left == 2
    resumed.run()
    a = load_checkpoint(tmp_path / "resumed" / CHECKPOINT_FILE)
    b = load_checkpoint(tmp_path / "straight" / CHECKPOINT_FILE)
    a.pop("options"), b.pop("options")
    assert a["step"] == 3 and a["d_warmup_left"] == 0
    assert_same(a, b)


def test_sigterm_stops_after_the_step_with_a_checkpoint_that_resumes_exactly(tmp_path):
    trainer = Trainer(tiny_options(tmp_path, "stopped", steps=5, export=tmp_path / "model"))
    step = trainer.train_step

    def step_then_terminate_at_two():
        stats = step()
        if trainer.step == 2:
            os.kill(os.getpid(), signal.SIGTERM)
        return stats

    trainer.train_step = step_then_terminate_at_two
    trainer.run()
    assert signal.getsignal(signal.SIGTERM) is signal.SIG_DFL
    assert load_checkpoint(tmp_path / "stopped" / CHECKPOINT_FILE)["step"] == 2
    assert not (tmp_path / "model").exists(), "a stopped run is not exported as if it had finished"
    resumed = Trainer(tiny_options(tmp_path, "stopped", steps=5, resume=tmp_path / "stopped" / CHECKPOINT_FILE))
    resumed.run()
    straight = Trainer(tiny_options(tmp_path, "straight", steps=5))
    straight.run()
    a = load_checkpoint(tmp_path / "stopped" / CHECKPOINT_FILE)
    b = load_checkpoint(tmp_path / "straight" / CHECKPOINT_FILE)
    a.pop("options"), b.pop("options")
    assert_same(a, b)
