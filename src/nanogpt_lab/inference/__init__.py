"""Stage 6: sampling, streamed token by token, with every step of the sampling pipeline visible.

`load(cfg)` builds the model and tokenizer a SampleConfig names; `sample(cfg)` yields nanoGPT-style sample texts;
`stream(...)` yields one TokenEvent per generated token; `pipeline` holds the pure logits → distribution steps;
`token_surprise` and `NextTokenExplorer` read probabilities without sampling. Names load torch on first use, so
importing this package stays cheap.
"""

from typing import Any

_EXPORTS = {
    'Loaded': 'loader',
    'load': 'loader',
    'bundled_folder': 'catalog',
    'served_models': 'catalog',
    'find_model': 'catalog',
    'SamplingSettings': 'pipeline',
    'stage_distributions': 'pipeline',
    'stage_view': 'pipeline',
    'TokenEvent': 'sampler',
    'generate_ids': 'sampler',
    'sample': 'nanogpt_sample',
    'stream': 'sampler',
    'NextTokenExplorer': 'analysis',
    'token_surprise': 'analysis',
}
__all__ = list(_EXPORTS)


def __getattr__(name: str) -> Any:
    if name in _EXPORTS:
        import importlib

        return getattr(importlib.import_module(f'nanogpt_lab.inference.{_EXPORTS[name]}'), name)
    raise AttributeError(f'module {__name__!r} has no attribute {name!r}')
