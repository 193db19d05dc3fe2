"""StyleGAN2 losses: non-saturating logistic G and D losses, lazy R1, and training-time style mixing (docs/stylegan2.md §5.1)."""

from __future__ import annotations

import torch
import torch.nn.functional as F

from training.augment import diff_augment
from training.discriminator import Discriminator
from training.generator import Generator


def mapped_ws(G: Generator, z: torch.Tensor, mixing_prob: float, update_w_avg: bool) -> torch.Tensor:
    """Maps z and, with probability mixing_prob, replaces ws[cutoff:] by those of a fresh z (cutoff in 1…num_ws−1)."""
    ws = G.mapping(z, update_w_avg=update_w_avg)
    num_ws = ws.shape[1]
    cutoff = int(torch.randint(1, num_ws, (), device=z.device))
    if float(torch.rand((), device=z.device)) < mixing_prob:
        other = G.mapping(torch.randn_like(z))
        ws = torch.cat([ws[:, :cutoff], other[:, cutoff:]], dim=1)
    return ws


def generate(G: Generator, z: torch.Tensor, mixing_prob: float) -> torch.Tensor:
    """A training forward pass of G: mapping with w_avg tracking, style mixing, random noise."""
    return G.synthesis(mapped_ws(G, z, mixing_prob, update_w_avg=True), noise_mode="random")


def generator_loss(G: Generator, D: Discriminator, z: torch.Tensor, mixing_prob: float,
                   policy: tuple[str, ...], memory_format: torch.memory_format = torch.contiguous_format) -> torch.Tensor:
    """mean softplus(−D(G(z)))."""
    logits = D(diff_augment(generate(G, z, mixing_prob), policy).contiguous(memory_format=memory_format))
    return F.softplus(-logits.float()).mean()


def discriminator_loss(G: Generator, D: Discriminator, z: torch.Tensor, real: torch.Tensor, mixing_prob: float,
                       policy: tuple[str, ...], memory_format: torch.memory_format = torch.contiguous_format
                       ) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """mean softplus(D(G(z))) + mean softplus(−D(x)); also returns the mean fake and real logits."""
    with torch.no_grad():
        fake = generate(G, z, mixing_prob)
    fake_logits = D(diff_augment(fake, policy).contiguous(memory_format=memory_format)).float()
    real_logits = D(diff_augment(real, policy).contiguous(memory_format=memory_format)).float()
    loss = F.softplus(fake_logits).mean() + F.softplus(-real_logits).mean()
    return loss, fake_logits.mean().detach(), real_logits.mean().detach()


def r1_penalty(D: Discriminator, real: torch.Tensor, policy: tuple[str, ...]) -> torch.Tensor:
    """mean over samples of ‖∇ₓ D(x)‖² at the real images (gradient through the augmentation)."""
    real = real.detach().requires_grad_(True)
    logits = D(diff_augment(real, policy))
    (grad,) = torch.autograd.grad(logits.sum(), real, create_graph=True)
    return grad.square().sum(dim=[1, 2, 3]).mean()
