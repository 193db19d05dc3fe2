"""The analytic FLOP count and the benchmark command."""

from pathlib import Path

from training.bench import CONFIG_F_256, main
from training.config import GeneratorConfig
from training.flops import generator_flops

FIXTURE = Path(__file__).resolve().parents[2] / "tests" / "fixtures" / "map2-16px"


def test_config_f_256_costs_56_3_gflop():
    assert round(generator_flops(CONFIG_F_256) / 1e9, 1) == 56.3


def test_flops_of_a_tiny_network_by_hand():
    config = GeneratorConfig(img_resolution=8, z_dim=3, w_dim=2, mapping_layers=2, channel_base=16, channel_max=4)
    # C(4) = 4, C(8) = 2. mapping 3·2 + 2·2; b4: affine 2·4 + conv 4·4·9·16, torgb 2·4 + 3·4·16;
    # b8: conv0 2·4 + 2·4·9·64, conv1 2·2 + 2·2·9·64, torgb 2·2 + 3·2·64.
    macs = (6 + 4) + (8 + 2304 + 8 + 192) + (8 + 4608 + 4 + 2304 + 4 + 384)
    assert generator_flops(config) == 2 * macs


def test_bench_reports_every_batch(capsys):
    main(["--model", str(FIXTURE), "--batch", "1,2", "--warmup", "0", "--runs", "1", "--device", "cpu"])
    lines = capsys.readouterr().out.strip().splitlines()
    assert "GFLOP/image" in lines[0] and lines[1].split() == ["batch", "sec/batch", "images/s", "GFLOP/s"]
    assert [line.split()[0] for line in lines[2:]] == ["1", "2"]
    assert all(float(line.split()[2]) > 0 for line in lines[2:])


def test_onnx_runtime_runs_the_same_network(capsys, tmp_path):
    import numpy as np
    import torch

    from training.bench import ONNX_TOLERANCE, onnx_runner
    from training.model_format import load_generator
    from training.seeds import z_from_seeds

    generator = load_generator(FIXTURE).eval()
    run = onnx_runner(generator, 1, tmp_path)
    # Another batch size than the export's example: the batch dimension is dynamic.
    z = torch.from_numpy(z_from_seeds([3, 4, 5], generator.config.z_dim))
    with torch.no_grad():
        expected = generator(z, noise_mode="const").numpy()
    assert np.abs(run(z) - expected).max() <= ONNX_TOLERANCE
    main(["--model", str(FIXTURE), "--batch", "1,3", "--warmup", "0", "--runs", "1", "--runtime", "onnxruntime",
          "--threads", "1"])
    lines = [line for line in capsys.readouterr().out.splitlines() if not line.startswith("[torch.onnx]")]
    header = next(i for i, line in enumerate(lines) if line.startswith("ONNX Runtime on cpu (1 threads)"))
    assert [line.split()[0] for line in lines[header + 2:header + 4]] == ["1", "3"]
