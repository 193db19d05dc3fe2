"""Test-wide settings: one CPU thread, since the test networks are tiny and OpenMP threads that wait for each
other on a busy machine turn milliseconds into seconds."""

import torch

torch.set_num_threads(1)
