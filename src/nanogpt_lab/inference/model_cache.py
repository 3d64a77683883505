"""The last few loaded models, kept in memory so the generate route and stage 6 do not reload a model per request."""

from __future__ import annotations

import threading
from collections import OrderedDict
from pathlib import Path
from typing import Any

from nanogpt_lab import workspace
from nanogpt_lab.config import SampleConfig

CACHE_SIZE = 2  # models kept loaded: a chat and a comparison; GPT-2 XL is 6 GB, so not more


class ModelCache:
    """The last few loaded models, keyed by what was asked and the checkpoint's mtime (a newer one reloads)."""

    def __init__(self, size: int = CACHE_SIZE):
        self.size = size
        self._lock = threading.Lock()
        self._models: OrderedDict[tuple, Any] = OrderedDict()
        self.run_lock = threading.Lock()  # one generation at a time: they would only fight over the CPU/GPU

    def load(self, cfg: SampleConfig) -> Any:
        """The loaded model for this config: from the cache, or loaded now (and cached)."""
        from nanogpt_lab.inference.loader import load

        ckpt = Path(cfg.out_dir) / workspace.CKPT_NAME
        stamp = ckpt.stat().st_mtime_ns if cfg.init_from == 'resume' and ckpt.exists() else 0
        key = (cfg.init_from, cfg.out_dir if cfg.init_from == 'resume' else None, cfg.device, cfg.dtype, stamp)
        with self._lock:
            if key in self._models:
                self._models.move_to_end(key)
                return self._models[key]
            loaded = load(cfg)
            self._models[key] = loaded
            while len(self._models) > self.size:
                self._models.popitem(last=False)
            return loaded
