"""A byte-deterministic safetensors writer: sorted metadata and tensor names, so rewriting a file reproduces it exactly.

(The safetensors package keeps metadata in a hash map, so its key order, and the file bytes, change between runs.)
"""

from __future__ import annotations

import json
import struct
from pathlib import Path

import torch
from safetensors import safe_open

DTYPE_NAMES = {torch.float32: "F32", torch.float16: "F16"}
HEADER_ALIGNMENT = 8


def write_safetensors(path: Path, tensors: dict[str, torch.Tensor], metadata: dict[str, str]) -> None:
    """Writes F32/F16 tensors (any shape, 0-d included) little-endian, in name order, with string metadata."""
    header: dict[str, object] = {"__metadata__": {key: str(metadata[key]) for key in sorted(metadata)}}
    chunks = []
    offset = 0
    for name in sorted(tensors):
        tensor = tensors[name].detach().to("cpu").contiguous()
        if tensor.dtype not in DTYPE_NAMES:
            raise ValueError(f"{name}: only float32 and float16 tensors are written, got {tensor.dtype}")
        array = tensor.numpy()
        data = array.astype(array.dtype.newbyteorder("<"), copy=False).tobytes()
        header[name] = {"dtype": DTYPE_NAMES[tensor.dtype], "shape": list(tensor.shape),
                        "data_offsets": [offset, offset + len(data)]}
        chunks.append(data)
        offset += len(data)
    text = json.dumps(header, separators=(",", ":"), ensure_ascii=False).encode("utf-8")
    text += b" " * (-len(text) % HEADER_ALIGNMENT)
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    with open(path, "wb") as handle:
        handle.write(struct.pack("<Q", len(text)))
        handle.write(text)
        for data in chunks:
            handle.write(data)


def read_safetensors(path: Path) -> tuple[dict[str, torch.Tensor], dict[str, str]]:
    """All tensors (in their stored dtype) and the metadata, through the safetensors package."""
    with safe_open(str(path), framework="pt") as handle:
        return {name: handle.get_tensor(name) for name in handle.keys()}, dict(handle.metadata() or {})
