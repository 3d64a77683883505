"""Stage 2: char, GPT-2 BPE and SentencePiece unigram tokenizers, their comparison and a BPE replay.

Torch-free, and light to import: tiktoken and sentencepiece load when a tokenizer is first built.
"""

from nanogpt_lab.tokenizers.base import Tokenizer, TokenizerError
from nanogpt_lab.tokenizers.bpe_replay import MergeStep, bpe_merge_replay, sequence_after
from nanogpt_lab.tokenizers.char import CharTokenizer, read_meta
from nanogpt_lab.tokenizers.compare import Comparison, TokenInfo, compare
from nanogpt_lab.tokenizers.gpt2 import EOT_TOKEN, GPT2Tokenizer, gpt2_encoding
from nanogpt_lab.tokenizers.lookup import tokenizer_for_dataset
from nanogpt_lab.tokenizers.unigram import UnigramTokenizer

__all__ = [
    'EOT_TOKEN',
    'CharTokenizer',
    'Comparison',
    'GPT2Tokenizer',
    'MergeStep',
    'TokenInfo',
    'Tokenizer',
    'TokenizerError',
    'UnigramTokenizer',
    'bpe_merge_replay',
    'sequence_after',
    'compare',
    'gpt2_encoding',
    'read_meta',
    'tokenizer_for_dataset',
]
