"""scripts/train-for.sh: a run stopped at its deadline leaves a checkpoint and a model folder that continues."""

import json
import subprocess
import sys
from pathlib import Path

import numpy as np

from training.model_format import DISCRIMINATOR_FILE, WEIGHTS_FILE

SCRIPT = Path(__file__).resolve().parents[2] / "scripts" / "train-for.sh"
TINY = ["--resolution", "16", "--z-dim", "8", "--w-dim", "8", "--mapping-layers", "2", "--channel-base", "128",
        "--channel-max", "16", "--batch", "4", "--steps", "1000000", "--device", "cpu", "--threads", "1",
        "--log-every", "1", "--sample-every", "1000000", "--checkpoint-every", "1000000"]


def train_for(seconds: int, run: Path, export: Path, *args: str) -> subprocess.CompletedProcess:
    """Runs the script from run's parent folder, with run and export given relative to it."""
    return subprocess.run(["bash", str(SCRIPT), str(seconds), run.name, export.name, *args], capture_output=True,
                          text=True, env={"PATH": "/usr/bin:/bin", "PYTHON": sys.executable}, cwd=run.parent,
                          timeout=300)


def last_step(run: Path) -> int:
    return json.loads((run / "log.jsonl").read_text().splitlines()[-1])["step"]


def test_a_timed_run_stops_with_a_checkpoint_and_an_export_and_resumes(tmp_path):
    data = tmp_path / "images.npy"
    np.save(data, np.random.RandomState(0).randint(0, 256, size=(12, 16, 16, 3), dtype=np.uint8))
    run, export = tmp_path / "run", tmp_path / "model"
    first = train_for(12, run, export, "--data", data.name, *TINY)
    assert first.returncode == 0, first.stderr
    assert "stopped by SIGTERM" in first.stdout
    assert (export / WEIGHTS_FILE).exists() and (export / DISCRIMINATOR_FILE).exists()
    stopped = last_step(run)
    assert stopped >= 1
    again = train_for(8, run, export, "--data", data.name, *TINY)
    assert again.returncode == 0, again.stderr
    assert last_step(run) > stopped, "the second call resumed from the checkpoint and went on"


def test_a_failing_run_is_an_error(tmp_path):
    failed = train_for(5, tmp_path / "run", tmp_path / "model", "--data", str(tmp_path / "missing.npy"), *TINY)
    assert failed.returncode != 0 and "training failed" in failed.stderr
    assert not (tmp_path / "model").exists()
