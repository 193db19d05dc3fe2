"""The progress table of a run's measured exports."""

import json

from training.config import GeneratorConfig
from training.generator import Generator
from training.model_format import save_model
from training.progress import METRICS_FILE, pending_exports, progress_rows, progress_table

TINY = GeneratorConfig(img_resolution=16, z_dim=8, w_dim=8, mapping_layers=2, channel_base=128, channel_max=16)


def fake_report(frechet: float, share: float) -> dict:
    return {"generated": [{"frechet_distance": frechet, "garment_share": share, "diversity_ratio": 0.8},
                          {"frechet_distance": frechet + 1, "garment_share": share, "diversity_ratio": 0.7}]}


def test_exports_without_metrics_are_pending_and_measured_ones_are_tabled(tmp_path):
    for step, frechet in ((500, 7.0), (1000, 5.5), (1500, None)):
        folder = tmp_path / "exports" / f"step-{step:07d}"
        save_model(Generator(TINY), folder, "card", extra_metadata={"training_steps": str(step),
                                                                    "training_images_seen": str(32 * step)})
        if frechet is not None:
            (folder / METRICS_FILE).write_text(json.dumps(fake_report(frechet, 0.5)))
    assert [folder.name for folder in pending_exports(tmp_path)] == ["step-0001500"]
    rows = progress_rows(tmp_path)
    assert [row["step"] for row in rows] == [500, 1000]
    table = progress_table(rows)
    assert "| 1,000 | 32,000 | 5.50 / 6.50 | 50.0 % / 50.0 % | 0.80 / 0.70 |" in table
    assert table.endswith("step-0001000")
