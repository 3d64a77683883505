"""Stages 4 and 5: the pretraining and fine-tuning loop, single process or DDP under torchrun.

`train(cfg, emit, should_stop)` is the whole entry point; it loads torch on first use, so importing this package
(for `finetune.FINETUNE_DEFAULTS`, say) stays cheap.
"""

import os
from typing import Any

# OpenMP threads that wait for work by spinning starve each other when the CPU is shared (another run, a browser,
# a test suite): on 2 busy cores nanoGPT's baby model measured ~500-840 ms per step spinning and ~80-120 ms with
# passive waiting (docs/benchmarks.md). On an idle machine spinning is a little faster, so passive waiting is chosen
# only when the load average already fills every core. It takes effect only if set before torch is first imported,
# as for `nanogpt-lab train` and the job worker; an explicit OMP_WAIT_POLICY in the environment always wins.
_busy = hasattr(os, 'getloadavg') and os.getloadavg()[0] >= (os.cpu_count() or 1)
if _busy and 'OMP_WAIT_POLICY' not in os.environ:
    os.environ['OMP_WAIT_POLICY'] = 'PASSIVE'

__all__ = ['TrainingError', 'train']


def __getattr__(name: str) -> Any:
    if name == 'train':
        from nanogpt_lab.training.trainer import train

        return train
    if name == 'TrainingError':
        from nanogpt_lab.training.faults import TrainingError

        return TrainingError
    raise AttributeError(f'module {__name__!r} has no attribute {name!r}')
