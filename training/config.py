"""The generator's settings (docs/stylegan2.md §1.3, §2.1, §3) and their string form in the model file's metadata."""

from __future__ import annotations

import math
from dataclasses import dataclass

FORMAT_NAME = "drape-stylegan2"
FORMAT_VERSION = "1"
IMG_CHANNELS = 3


def format_number(value: float) -> str:
    """Writes a number the way the metadata stores it: integers without a fraction ("256"), others by repr."""
    return str(int(value)) if float(value).is_integer() else repr(float(value))


@dataclass(frozen=True)
class GeneratorConfig:
    """Everything needed to build an unconditional skip-architecture StyleGAN2 generator."""

    img_resolution: int = 256
    z_dim: int = 512
    w_dim: int = 512
    mapping_layers: int = 8
    mapping_lr_multiplier: float = 0.01
    channel_base: int = 16384
    channel_max: int = 512
    conv_clamp: float | None = None
    # Explicit channels per block from 4x4 up (metadata `channels`), for imported networks whose
    # widths follow no channel_base/channel_max rule; overrides them when set.
    channel_table: tuple[int, ...] | None = None

    def __post_init__(self) -> None:
        log2 = math.log2(self.img_resolution)
        if not (log2.is_integer() and 8 <= self.img_resolution <= 1024):
            raise ValueError(f"img_resolution must be a power of two in [8, 1024], got {self.img_resolution}")
        for field in ("z_dim", "w_dim", "mapping_layers", "channel_base", "channel_max"):
            if getattr(self, field) < 1:
                raise ValueError(f"{field} must be positive")
        if self.channel_table is not None and len(self.channel_table) != len(self.block_resolutions):
            raise ValueError(
                f"channels lists {len(self.channel_table)} blocks, but img_resolution "
                f"{self.img_resolution} has {len(self.block_resolutions)}"
            )
        if min(self.channels(r) for r in self.block_resolutions) < 1:
            raise ValueError("channel_base is too small: some block would have no channels")
        if self.conv_clamp is not None and self.conv_clamp <= 0:
            raise ValueError("conv_clamp must be positive or None")

    @property
    def resolution_log2(self) -> int:
        return int(math.log2(self.img_resolution))

    @property
    def num_ws(self) -> int:
        """2·log2(R) − 2 (docs/stylegan2.md §2.1)."""
        return 2 * self.resolution_log2 - 2

    @property
    def block_resolutions(self) -> list[int]:
        return [2**k for k in range(2, self.resolution_log2 + 1)]

    def channels(self, resolution: int) -> int:
        """C(r) = min(channel_base // r, channel_max) (docs/stylegan2.md §3), or the explicit table's entry."""
        if self.channel_table is not None:
            return self.channel_table[int(math.log2(resolution)) - 2]
        return min(self.channel_base // resolution, self.channel_max)

    def to_metadata(self) -> dict[str, str]:
        """The network settings as the model format's `__metadata__` strings (docs/model-format.md)."""
        return {
            "format": FORMAT_NAME,
            "format_version": FORMAT_VERSION,
            "z_dim": str(self.z_dim),
            "w_dim": str(self.w_dim),
            "c_dim": "0",
            "img_resolution": str(self.img_resolution),
            "img_channels": str(IMG_CHANNELS),
            "num_ws": str(self.num_ws),
            "mapping_layers": str(self.mapping_layers),
            "mapping_lr_multiplier": format_number(self.mapping_lr_multiplier),
            "channel_base": str(self.channel_base),
            "channel_max": str(self.channel_max),
            "conv_clamp": "none" if self.conv_clamp is None else format_number(self.conv_clamp),
            "architecture": "skip",
        } | ({} if self.channel_table is None else {"channels": ",".join(map(str, self.channel_table))})

    @classmethod
    def from_metadata(cls, metadata: dict[str, str]) -> GeneratorConfig:
        """Reads the settings back, checking the fixed fields so that a foreign file fails loudly."""
        fixed = {"format": FORMAT_NAME, "format_version": FORMAT_VERSION, "c_dim": "0",
                 "img_channels": str(IMG_CHANNELS), "architecture": "skip"}
        for key, expected in fixed.items():
            if metadata.get(key) != expected:
                raise ValueError(f"metadata {key!r} is {metadata.get(key)!r}, expected {expected!r}")
        clamp = metadata["conv_clamp"]
        config = cls(
            img_resolution=int(metadata["img_resolution"]),
            z_dim=int(metadata["z_dim"]),
            w_dim=int(metadata["w_dim"]),
            mapping_layers=int(metadata["mapping_layers"]),
            mapping_lr_multiplier=float(metadata["mapping_lr_multiplier"]),
            channel_base=int(metadata["channel_base"]),
            channel_max=int(metadata["channel_max"]),
            conv_clamp=None if clamp == "none" else float(clamp),
            channel_table=None if "channels" not in metadata
            else tuple(int(c) for c in metadata["channels"].split(",")),
        )
        if int(metadata["num_ws"]) != config.num_ws:
            raise ValueError(f"metadata num_ws {metadata['num_ws']} does not match the resolution")
        return config
