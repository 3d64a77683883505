"""The GPT-2 model in one readable file, its sizes, and loading and saving its weights.

`GPT`, `GPTConfig` and `KVCache` load torch on first use, so torch-free callers (the UI's size calculator,
`nanogpt_lab.model.sizes`) can import this package without paying for it.
"""

from typing import Any

__all__ = ['GPT', 'GPTConfig', 'KVCache']


def __getattr__(name: str) -> Any:
    if name in __all__:
        from nanogpt_lab.model import gpt

        return getattr(gpt, name)
    raise AttributeError(f'module {__name__!r} has no attribute {name!r}')
