"""Stage 2: char, GPT-2 BPE, and BPE / SentencePiece unigram tokenizers trained on your text, their comparison and a
BPE replay.

Torch-free, and light to import: tiktoken, tokenizers and sentencepiece load when a tokenizer is first built.
"""

from nanogpt_lab.tokenizers.base import Tokenizer, TokenizerError, prompt_ids
from nanogpt_lab.tokenizers.bpe import BPETokenizer
from nanogpt_lab.tokenizers.bpe_replay import MergeStep, bpe_merge_replay, sequence_after
from nanogpt_lab.tokenizers.char import CharTokenizer, read_meta
from nanogpt_lab.tokenizers.gpt2 import EOT_TOKEN, GPT2Tokenizer, gpt2_encoding
from nanogpt_lab.tokenizers.lanes import LANES, compare_lanes, lane_tokenizer
from nanogpt_lab.tokenizers.lookup import VOCAB_FILES, load_vocab_file, tokenizer_for_dataset, vocab_file
from nanogpt_lab.tokenizers.side_by_side import Comparison, TokenInfo, compare
from nanogpt_lab.tokenizers.unigram import UnigramTokenizer

__all__ = [
    'EOT_TOKEN',
    'LANES',
    'VOCAB_FILES',
    'BPETokenizer',
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
    'compare_lanes',
    'lane_tokenizer',
    'load_vocab_file',
    'vocab_file',
    'gpt2_encoding',
    'prompt_ids',
    'read_meta',
    'tokenizer_for_dataset',
]
