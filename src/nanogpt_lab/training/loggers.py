"""Optional metric sinks nanoGPT users expect: TensorBoard (`tensorboard_log`) and Weights & Biases (`wandb_log`)."""

from __future__ import annotations

import logging
import os
from pathlib import Path
from typing import Any

from nanogpt_lab.config import TrainConfig
from nanogpt_lab.training.faults import TrainingError

log = logging.getLogger(__name__)


class MetricLoggers:
    """Writes train and eval scalars to whichever of TensorBoard and W&B the config turns on (rank 0 only)."""

    def __init__(self, cfg: TrainConfig, out_dir: Path, enabled: bool = True):
        self.tb: Any = None
        self.wandb: Any = None
        if not enabled:
            return
        if cfg.tensorboard_log:
            from torch.utils.tensorboard import SummaryWriter  # needs the tensorboard package

            self.tb = SummaryWriter(log_dir=str(out_dir / 'tensorboard'))
        if cfg.wandb_log:
            self.wandb = _start_wandb(cfg, out_dir)

    def train(self, it: int, loss: float, lr: float, mfu: float | None) -> None:
        """One logged training step."""
        scalars = {'train/loss_step': loss, 'lr': lr, **({'mfu': mfu * 100} if mfu is not None else {})}
        self._write(it, scalars)

    def eval(self, it: int, train_loss: float, val_loss: float, lr: float) -> None:
        """One evaluation, under nanoGPT's W&B names (train/loss, val/loss)."""
        self._write(it, {'train/loss': train_loss, 'val/loss': val_loss, 'lr': lr})

    def _write(self, it: int, scalars: dict[str, float]) -> None:
        if self.tb is not None:
            for key, value in scalars.items():
                self.tb.add_scalar(key, value, it)
        if self.wandb is not None:
            self.wandb.log({'iter': it, **scalars})

    def close(self) -> None:
        """Flush and close; W&B marks the run finished."""
        if self.tb is not None:
            self.tb.close()
        if self.wandb is not None:
            self.wandb.finish()


def _start_wandb(cfg: TrainConfig, out_dir: Path) -> Any:
    """Start a W&B run; WANDB_MODE=offline (or disabled) is honoured by wandb itself, files go to out_dir."""
    try:
        import wandb
    except ImportError:
        raise TrainingError('training.no_wandb', key='wandb_log') from None
    log.info('wandb: project %s, run %s, mode %s', cfg.wandb_project, cfg.wandb_run_name, os.environ.get('WANDB_MODE'))
    return wandb.init(project=cfg.wandb_project, name=cfg.wandb_run_name, config=cfg.model_dump(), dir=str(out_dir))
