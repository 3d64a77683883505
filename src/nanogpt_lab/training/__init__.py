"""Stages 4 and 5: the pretraining and fine-tuning loop, single process or DDP under torchrun.

`train(cfg, emit, should_stop)` is the whole entry point; it loads torch on first use, so importing this package
(for `TrainingError`, say) stays cheap. It never touches the environment: the CPU threading of a
training process is chosen by whoever starts it (`nanogpt_lab.cpu_threads`).
"""

from typing import Any

__all__ = ['TrainingError', 'train']


def __getattr__(name: str) -> Any:
    if name == 'train':
        from nanogpt_lab.training.trainer import train

        return train
    if name == 'TrainingError':
        from nanogpt_lab.training.faults import TrainingError

        return TrainingError
    raise AttributeError(f'module {__name__!r} has no attribute {name!r}')
