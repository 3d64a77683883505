"""The learning-rate schedule: nanoGPT's linear warmup and cosine decay to min_lr, or warmup, a constant stretch
and a linear cooldown to min_lr (`cooldown_iters` > 0: "warmup-stable-decay", as modded-nanogpt's speedrun)."""

from __future__ import annotations

import math

from nanogpt_lab.config import TrainConfig


def get_lr(it: int, cfg: TrainConfig) -> float:
    """The learning rate for iteration `it`: constant when decay_lr is off, else warmup, cosine (or the constant
    stretch and linear cooldown), then min_lr.

    The warmup is nanoGPT's `(it + 1) / (warmup_iters + 1)`, so step 0 already moves the weights a little.
    """
    if not cfg.decay_lr:
        return cfg.learning_rate
    if it < cfg.warmup_iters:
        return cfg.learning_rate * (it + 1) / (cfg.warmup_iters + 1)
    if it > cfg.lr_decay_iters:
        return cfg.min_lr
    if cfg.cooldown_iters:  # hold the peak, then fall in a straight line to min_lr at lr_decay_iters
        left = min(1.0, (cfg.lr_decay_iters - it) / cfg.cooldown_iters)
        return cfg.min_lr + left * (cfg.learning_rate - cfg.min_lr)
    # max(1, ...): a decay that ends where the warmup ends would otherwise divide by zero
    decay_ratio = (it - cfg.warmup_iters) / max(1, cfg.lr_decay_iters - cfg.warmup_iters)
    coeff = 0.5 * (1.0 + math.cos(math.pi * decay_ratio))  # 1 at the start of the decay, 0 at its end
    return cfg.min_lr + coeff * (cfg.learning_rate - cfg.min_lr)
