"""The optimizer a run steps: nanoGPT's AdamW, or Muon for the blocks' weight matrices with AdamW for the rest.

Muon (Keller Jordan, 2024; the optimizer behind modded-nanogpt's speedrun records) replaces each matrix's update by
the nearest orthogonal matrix of its momentum, found with five Newton–Schulz iterations: every direction of the
update moves at the same rate, so a step teaches more than AdamW's. Embeddings (and the tied output head), LayerNorm
gains and biases stay with AdamW, as Muon's authors prescribe. The update is torch.optim.Muon's (torch 2.13), term for
term: an EMA momentum with Nesterov, the quintic Newton–Schulz coefficients, decoupled weight decay and the
`sqrt(max(1, rows/cols))` rate adjustment. One difference: torch.optim.Muon runs the iteration in bfloat16, which a
CPU without AVX-512-BF16 or AMX emulates; on the lab's 2-core AMD EPYC that took 3.1 s per step for the CPU recipe's
four matrices against 68 ms in float32 (docs/benchmarks.md). So the iteration runs in bfloat16 on CUDA, as torch's
does, and in float32 elsewhere.
"""

from __future__ import annotations

import math
from typing import Any

import torch
from torch.optim.adamw import adamw

NS_COEFFICIENTS = (3.4445, -4.775, 2.0315)  # torch.optim.Muon's (Keller Jordan's) quintic iteration
NS_STEPS = 5


def orthogonalize(update: torch.Tensor, steps: int = NS_STEPS, eps: float = 1e-7) -> torch.Tensor:
    """The Newton–Schulz approximation of U·Vᵀ for update = U·S·Vᵀ (singular values pushed to ~0.7-1.2)."""
    a, b, c = NS_COEFFICIENTS
    x = update.to(torch.bfloat16 if update.is_cuda else torch.float32)
    tall = x.size(0) > x.size(1)
    if tall:
        x = x.T
    x = x / x.norm().clamp(min=eps)  # spectral norm ≤ 1, where the iteration converges
    for _ in range(steps):
        gram = x @ x.T
        x = torch.addmm(x, torch.addmm(gram, gram, gram, beta=b, alpha=c), x, beta=a)
    return (x.T if tall else x).to(update.dtype)


class MuonAdamW(torch.optim.Optimizer):
    """Groups with `muon=True` take Muon steps, the others AdamW steps (torch's functional AdamW, fused where the
    device has it). Each group's `lr` is set by the loop's schedule times its `lr_scale` (Muon's rate is ~5× AdamW's).
    """

    def __init__(self, groups: list[dict[str, Any]], betas: tuple[float, float], momentum: float, fused: bool):
        defaults = dict(lr=1e-3, lr_scale=1.0, weight_decay=0.0, betas=betas, eps=1e-8, momentum=momentum)
        super().__init__(groups, {**defaults, 'muon': False, 'fused': fused})

    @torch.no_grad()
    def step(self, closure: Any = None) -> None:  # noqa: ARG002 (torch's signature; the loop never passes one)
        for group in self.param_groups:
            params = [p for p in group['params'] if p.grad is not None]
            if group['muon']:
                self._muon(group, params)
            elif params:
                self._adamw(group, params)

    def _muon(self, group: dict[str, Any], params: list[torch.Tensor]) -> None:
        lr, momentum = group['lr'], group['momentum']
        for p in params:
            buf = self.state[p].setdefault('momentum_buffer', torch.zeros_like(p))
            buf.lerp_(p.grad, 1 - momentum)
            update = orthogonalize(p.grad.lerp(buf, momentum))  # Nesterov
            p.mul_(1 - lr * group['weight_decay'])
            p.add_(update, alpha=-lr * math.sqrt(max(1.0, p.size(0) / p.size(1))))

    def _adamw(self, group: dict[str, Any], params: list[torch.Tensor]) -> None:
        fused = bool(group['fused'])
        for p in params:
            if not self.state[p]:
                self.state[p].update(
                    step=torch.tensor(0.0, device=p.device if fused else 'cpu'),  # fused kernels want it beside p
                    exp_avg=torch.zeros_like(p),
                    exp_avg_sq=torch.zeros_like(p),
                )
        states = [self.state[p] for p in params]
        beta1, beta2 = group['betas']
        adamw(
            params,
            [p.grad for p in params],
            [s['exp_avg'] for s in states],
            [s['exp_avg_sq'] for s in states],
            [],
            [s['step'] for s in states],
            fused=fused or None,
            amsgrad=False,
            beta1=beta1,
            beta2=beta2,
            lr=group['lr'],
            weight_decay=group['weight_decay'],
            eps=group['eps'],
            maximize=False,
        )


def muon_groups(model: torch.nn.Module, weight_decay: float, muon_lr_scale: float) -> list[dict[str, Any]]:
    """The blocks' 2-D weights for Muon; embeddings (and the head tied to wte) decay under AdamW; the rest don't."""
    named = [(n, p) for n, p in model.named_parameters() if p.requires_grad]
    embedding = {'transformer.wte.weight', 'transformer.wpe.weight', 'lm_head.weight'}
    return [
        {
            'params': [p for n, p in named if p.dim() == 2 and n not in embedding],
            'muon': True,
            'lr_scale': muon_lr_scale,
            'weight_decay': weight_decay,
        },
        {'params': [p for n, p in named if p.dim() == 2 and n in embedding], 'weight_decay': weight_decay},
        {'params': [p for _, p in named if p.dim() < 2], 'weight_decay': 0.0},
    ]


def make_optimizer(model: torch.nn.Module, cfg: Any, device_type: str) -> torch.optim.Optimizer:
    """`optimizer=adamw`: nanoGPT's configure_optimizers; `muon`: MuonAdamW at muon_lr for the matrices."""
    betas = (cfg.beta1, cfg.beta2)
    if cfg.optimizer == 'adamw':
        return model.configure_optimizers(cfg.weight_decay, cfg.learning_rate, betas, device_type)
    groups = muon_groups(model, cfg.weight_decay, cfg.muon_lr / cfg.learning_rate)
    return MuonAdamW(groups, betas, cfg.muon_momentum, fused=device_type in ('cpu', 'cuda'))
