"""A small garment classifier whose penultimate layer is the feature space of the quality metrics: the network,
its seeded training with light augmentation (flips, small shifts), its weights cache, and inference."""

from __future__ import annotations

import hashlib
import json
import math
from dataclasses import asdict, dataclass
from pathlib import Path

import numpy as np
import torch
from torch import nn
from torch.nn import functional as F

MAX_INPUT_RESOLUTION = 64
STAGE_WIDTHS = (32, 64, 128)
INFERENCE_BATCH = 256


@dataclass(frozen=True)
class TrainSettings:
    """Everything besides the data that the trained weights depend on (part of the cache key)."""

    epochs: int = 15
    batch: int = 64
    learning_rate: float = 2e-3
    weight_decay: float = 5e-4
    seed: int = 0
    architecture: str = "conv-bn-relu-maxpool stages of widths 32/64/128, conv-bn-relu, global average, dropout 0.2"

    def key(self) -> str:
        return hashlib.sha256(json.dumps(asdict(self), sort_keys=True).encode()).hexdigest()[:8]


def conv_layer(in_channels: int, out_channels: int) -> list[nn.Module]:
    """A 3x3 convolution, batch norm and ReLU."""
    return [nn.Conv2d(in_channels, out_channels, 3, padding=1, bias=False), nn.BatchNorm2d(out_channels), nn.ReLU()]


class GarmentClassifier(nn.Module):
    """Images [N, 3, R, R] in [−1, 1] → class logits. Inputs above 64 px are average-pooled to 64 px first; conv
    layers with max-pooling halve the size down to 4x4, one more conv layer follows; its global average is the
    feature vector."""

    def __init__(self, resolution: int, num_classes: int) -> None:
        super().__init__()
        if resolution < 8 or resolution & (resolution - 1):
            raise ValueError(f"the classifier needs a power-of-two resolution of at least 8, got {resolution}")
        pooling = max(1, resolution // MAX_INPUT_RESOLUTION)
        layers: list[nn.Module] = [nn.AvgPool2d(pooling)] if pooling > 1 else []
        size, channels = resolution // pooling, 3
        for stage in range(int(math.log2(size)) - 2):
            width = STAGE_WIDTHS[min(stage, len(STAGE_WIDTHS) - 1)]
            layers += [*conv_layer(channels, width), nn.MaxPool2d(2)]
            channels = width
        layers += conv_layer(channels, channels)
        self.backbone = nn.Sequential(*layers, nn.AdaptiveAvgPool2d(1), nn.Flatten())
        self.head = nn.Sequential(nn.Dropout(0.2), nn.Linear(channels, num_classes))
        self.feature_dim = channels

    def features(self, images: torch.Tensor) -> torch.Tensor:
        """The penultimate layer: [N, feature_dim]."""
        return self.backbone(images)

    def forward(self, images: torch.Tensor) -> torch.Tensor:
        return self.head(self.features(images))


def to_network_input(images: np.ndarray) -> torch.Tensor:
    """uint8 [N, R, R, 3] → float [N, 3, R, R] in [−1, 1]."""
    return torch.from_numpy(np.ascontiguousarray(images)).permute(0, 3, 1, 2).float() / 127.5 - 1


def augment(batch: torch.Tensor, generator: torch.Generator) -> torch.Tensor:
    """Random horizontal flips and shifts of up to R/16 pixels (edges replicated)."""
    n, _, size, _ = batch.shape
    flip = torch.rand(n, generator=generator) < 0.5
    batch = torch.where(flip.reshape(-1, 1, 1, 1), batch.flip(3), batch)
    shift = max(1, size // 16)
    padded = F.pad(batch, (shift, shift, shift, shift), mode="replicate")
    offsets = torch.randint(0, 2 * shift + 1, (n, 2), generator=generator).tolist()
    return torch.stack([padded[i, :, y:y + size, x:x + size] for i, (y, x) in enumerate(offsets)])


def train_classifier(images: np.ndarray, labels: np.ndarray, num_classes: int, settings: TrainSettings,
                     log=print) -> GarmentClassifier:
    """Trains from a seed with AdamW and a cosine learning rate; images uint8 [N, R, R, 3], labels int [N]."""
    torch.manual_seed(settings.seed)
    generator = torch.Generator().manual_seed(settings.seed)
    model = GarmentClassifier(images.shape[1], num_classes)
    inputs = to_network_input(images)
    targets = torch.from_numpy(labels.astype(np.int64))
    steps_per_epoch = math.ceil(len(inputs) / settings.batch)
    optimizer = torch.optim.AdamW(model.parameters(), lr=settings.learning_rate, weight_decay=settings.weight_decay)
    schedule = torch.optim.lr_scheduler.OneCycleLR(optimizer, settings.learning_rate,
                                                   total_steps=settings.epochs * steps_per_epoch)
    model.train()
    for epoch in range(settings.epochs):
        order = torch.randperm(len(inputs), generator=generator)
        total_loss = 0.0
        for start in range(0, len(order), settings.batch):
            indices = order[start:start + settings.batch]
            if len(indices) < 2:
                continue
            loss = F.cross_entropy(model(augment(inputs[indices], generator)), targets[indices])
            optimizer.zero_grad(set_to_none=True)
            loss.backward()
            optimizer.step()
            schedule.step()
            total_loss += loss.item() * len(indices)
        log(f"classifier epoch {epoch + 1}/{settings.epochs}: loss {total_loss / len(inputs):.3f}")
    return model.eval()


def cache_path(cache_dir: Path, resolution: int, data_fingerprint: str, settings: TrainSettings) -> Path:
    return cache_dir / f"classifier-{resolution}px-{data_fingerprint}-{settings.key()}.pt"


def cached_classifier(cache_dir: Path, images: np.ndarray, labels: np.ndarray, class_names: list[str],
                      data_fingerprint: str, settings: TrainSettings, log=print) -> tuple[GarmentClassifier, Path]:
    """The classifier for this data and these settings: loaded from the cache, or trained and cached."""
    resolution = images.shape[1]
    path = cache_path(cache_dir, resolution, data_fingerprint, settings)
    if path.exists():
        stored = torch.load(path, map_location="cpu", weights_only=True)
        model = GarmentClassifier(resolution, len(class_names))
        model.load_state_dict(stored["state"])
        log(f"classifier loaded from {path}")
        return model.eval(), path
    model = train_classifier(images, labels, len(class_names), settings, log)
    path.parent.mkdir(parents=True, exist_ok=True)
    partial_path = path.with_name(path.name + ".partial")
    torch.save({"state": model.state_dict(), "class_names": class_names}, partial_path)
    partial_path.replace(path)
    log(f"classifier saved to {path}")
    return model, path


@torch.no_grad()
def features_and_probabilities(model: GarmentClassifier, images: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Penultimate-layer features [N, D] and softmax probabilities [N, C] (float64) of uint8 images [N, R, R, 3]."""
    model.eval()
    features, probabilities = [], []
    for start in range(0, len(images), INFERENCE_BATCH):
        batch_features = model.features(to_network_input(images[start:start + INFERENCE_BATCH]))
        features.append(batch_features.double().numpy())
        probabilities.append(F.softmax(model.head(batch_features), dim=1).double().numpy())
    return np.concatenate(features), np.concatenate(probabilities)
