"""Stage 2's lanes: one text cut by char, GPT-2 BPE, your trained BPE and your trained unigram, side by side.

The page and the API both call `compare_lanes`; each lane that cannot be built (GPT-2's files missing offline,
too little text for SentencePiece) carries the reason instead of tokens, and the other lanes still show.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

from nanogpt_lab.tokenizers.base import Tokenizer, TokenizerError
from nanogpt_lab.tokenizers.bpe import FILE_NAME as BPE_FILE
from nanogpt_lab.tokenizers.bpe import BPETokenizer
from nanogpt_lab.tokenizers.char import CharTokenizer, read_meta
from nanogpt_lab.tokenizers.gpt2 import GPT2Tokenizer
from nanogpt_lab.tokenizers.lookup import META_FILE
from nanogpt_lab.tokenizers.side_by_side import Comparison, compare_one, error_fields
from nanogpt_lab.tokenizers.unigram import FILE_NAME as UNIGRAM_FILE
from nanogpt_lab.tokenizers.unigram import UnigramTokenizer

LANES = ('char', 'gpt2', 'bpe', 'unigram')
TRAINED_VOCAB = 1000  # the trained lanes' default size on a page-sized text
_DATASET_FILE = {'char': META_FILE, 'bpe': BPE_FILE, 'unigram': UNIGRAM_FILE}


def lane_tokenizer(lane: str, text: str, vocab_size: int = TRAINED_VOCAB, dataset: Path | None = None) -> Tokenizer:
    """The tokenizer of one lane: from `dataset`'s own vocabulary file when given, else built from `text`
    (char: its characters; bpe / unigram: trained on it with `vocab_size` tokens); gpt2 is always GPT-2's."""
    if lane not in LANES:
        raise TokenizerError('tokenizer.lane.unknown', key='tokenizers', lane=lane, allowed=', '.join(LANES))
    if lane == 'gpt2':
        return GPT2Tokenizer()
    if dataset is not None:
        path = dataset / _DATASET_FILE[lane]
        if not path.is_file():
            raise TokenizerError('tokenizer.lane.no_file', dataset=dataset.name, file=path.name)
        if lane == 'char':
            return CharTokenizer.from_meta(read_meta(path))
        return BPETokenizer.load(path) if lane == 'bpe' else UnigramTokenizer.load(path)
    if lane == 'char':
        return CharTokenizer.from_text(text or ' ')
    if lane == 'bpe':
        return BPETokenizer.train(text.splitlines(keepends=True), vocab_size)
    return UnigramTokenizer.train(text, vocab_size)


def compare_lanes(
    text: str, lanes: Sequence[str] = LANES, vocab_size: int = TRAINED_VOCAB, dataset: Path | None = None
) -> list[Comparison]:
    """Each lane's cut of `text` with its counts, characters per token and bits per character, in `lanes` order."""
    out = []
    for lane in lanes:
        try:
            out.append(compare_one(text, lane_tokenizer(lane, text, vocab_size, dataset), lane))
        except TokenizerError as e:
            n_bytes = len(text.encode('utf-8'))
            out.append(Comparison(lane, 0, len(text), n_bytes, 0, None, None, None, [], *error_fields(e)))
    return out
