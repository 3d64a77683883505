"""The GPT-2 model in one readable file, its sizes, and loading and saving its weights."""

from nanogpt_lab.model.gpt import GPT, GPTConfig, KVCache

__all__ = ['GPT', 'GPTConfig', 'KVCache']
