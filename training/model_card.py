"""The model card (`MODEL.md`) that accompanies every exported generator."""

from __future__ import annotations

from training.config import GeneratorConfig


def model_card(name: str, description: str, config: GeneratorConfig, facts: dict[str, str]) -> str:
    """Markdown: what the model is, its network settings, how it was made, and its limits."""
    settings = config.to_metadata()
    setting_rows = "\n".join(f"| `{key}` | {value} |" for key, value in settings.items())
    fact_rows = "\n".join(f"| {key} | {value} |" for key, value in facts.items()) or "| (none recorded) | |"
    return f"""# {name}

{description}

A StyleGAN2 generator (skip architecture, unconditional) stored in drape's model format
(`generator.safetensors`; see docs/model-format.md in the drape repository). The network settings
below are also in the file's metadata.

## Network

| setting | value |
| --- | --- |
{setting_rows}

## How it was made

| fact | value |
| --- | --- |
{fact_rows}

## Use and limits

- Seeds map to z with numpy's `RandomState(seed).randn(1, z_dim)`; images come out in [-1, 1], RGB.
- The generator reproduces what it saw: photos of single garments on everyday backgrounds. Expect
  backgrounds and artefacts in the output, and no people.
- Sample quality depends on how long it trained (see the facts above); short runs give blurry designs.
"""
