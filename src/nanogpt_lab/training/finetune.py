"""Fine-tuning defaults: nanoGPT's config/finetune_shakespeare.py values, plus early stopping.

`nanogpt-lab finetune` builds its config on top of these, so a config file or `--key=value` still overrides each.
"""

from __future__ import annotations

from typing import Any

FINETUNE_DEFAULTS: dict[str, Any] = {
    # start from pretrained weights; nanoGPT's example uses gpt2-xl (1.5B), far too big for a CPU lab default
    'init_from': 'gpt2',
    'dataset': 'shakespeare',
    # evaluate often: a fine-tune overfits within a few epochs of a small dataset
    'eval_interval': 5,
    'eval_iters': 40,
    'always_save_checkpoint': False,  # keep only the checkpoint with the best val loss
    # 1 sequence × 32 accumulation steps × 1024 tokens = 32,768 tokens per step (~9 steps per Shakespeare epoch)
    'batch_size': 1,
    'gradient_accumulation_steps': 32,
    'max_iters': 20,
    # a small constant learning rate: nudge the pretrained weights, do not overwrite them
    'learning_rate': 3e-5,
    'decay_lr': False,
    # ours: stop when val loss has not improved for 3 evaluations in a row
    'early_stopping_patience': 3,
}
