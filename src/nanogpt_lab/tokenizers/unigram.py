"""A SentencePiece unigram tokenizer trained on the learner's own text, standing in for the GPT-1 module's tokenizer.

Trained so that it keeps the text as it is (no Unicode normalisation, no added leading space, whitespace kept,
unseen characters spelled as bytes), which lets `compare` line its tokens up with GPT-2's and the char tokenizer's.
One thing SentencePiece cannot keep: a literal '▁' (U+2581) in the text is its own word marker and decodes as a space.
"""

from __future__ import annotations

import io
import logging
from collections.abc import Iterable, Iterator, Sequence
from pathlib import Path

from nanogpt_lab.tokenizers.base import Tokenizer, TokenizerError

log = logging.getLogger(__name__)
MIN_VOCAB = 300  # 256 byte pieces + <unk>, <s>, </s> + a few real pieces
MAX_SENTENCE_BYTES = 1 << 16
MAX_SENTENCES = 2_000_000  # SentencePiece holds its training sentences in memory
FILE_NAME = 'tokenizer.model'  # the name SentencePiece models usually carry (LLaMA's, T5's)


class UnigramTokenizer(Tokenizer):
    """SentencePiece's unigram language-model tokenizer, loaded from a serialized model."""

    name = 'unigram'

    def __init__(self, model_proto: bytes):
        import sentencepiece as spm

        self.model_proto = model_proto
        try:
            self.sp = spm.SentencePieceProcessor(model_proto=model_proto)
        except RuntimeError as e:
            raise TokenizerError('tokenizer.unigram.unreadable', path='-', detail=str(e)) from None

    @classmethod
    def train(cls, texts: str | Iterable[str], vocab_size: int = 1000) -> UnigramTokenizer:
        """Train in memory (no files, no console output) on a text or an iterable of lines; a short text may give a
        smaller vocabulary than asked. A newline is a piece of its own, so text cut after any newline encodes the
        same piece by piece."""
        import sentencepiece as spm

        if vocab_size < MIN_VOCAB:
            raise TokenizerError('tokenizer.unigram.vocab_small', vocab_size=vocab_size, min=MIN_VOCAB)
        lines = _Lines(texts.splitlines(keepends=True) if isinstance(texts, str) else texts)
        model = io.BytesIO()
        try:
            spm.SentencePieceTrainer.train(
                sentence_iterator=iter(lines),
                model_writer=model,
                model_type='unigram',
                vocab_size=vocab_size,
                hard_vocab_limit=False,  # short texts cannot fill a large vocabulary: take what they give
                normalization_rule_name='identity',
                add_dummy_prefix=False,
                remove_extra_whitespaces=False,
                allow_whitespace_only_pieces=True,
                user_defined_symbols=['\n'],  # one token per line break, and never a piece across one
                byte_fallback=True,  # characters never seen in training become byte pieces, never <unk>
                character_coverage=1.0,
                max_sentence_length=MAX_SENTENCE_BYTES,
                input_sentence_size=MAX_SENTENCES,  # a bigger text is sampled: memory stays bounded
                shuffle_input_sentence=True,
                minloglevel=2,  # quiet: SentencePiece otherwise logs every training step to stderr
            )
        except RuntimeError as e:
            if lines.seen_text:
                raise TokenizerError('tokenizer.unigram.train_failed', detail=str(e)) from None
        if not lines.seen_text:
            raise TokenizerError('tokenizer.unigram.no_text')
        return cls(model.getvalue())

    def save(self, path: str | Path) -> None:
        """Write the model in SentencePiece's own format (loadable with `UnigramTokenizer.load` or spm itself)."""
        from nanogpt_lab.fileio import atomic_write_bytes

        atomic_write_bytes(path, self.model_proto)

    @classmethod
    def load(cls, path: str | Path) -> UnigramTokenizer:
        """Read a model written by `save` (or by SentencePiece)."""
        try:
            return cls(Path(path).read_bytes())
        except TokenizerError as e:
            raise TokenizerError('tokenizer.unigram.unreadable', path=path, detail=e.params['detail']) from None

    @property
    def vocab_size(self) -> int:
        return self.sp.get_piece_size()

    def encode(self, text: str) -> list[int]:
        """Text -> ids."""
        return self.sp.encode(text)

    def decode(self, ids: Sequence[int]) -> str:
        """Ids -> text."""
        self._check([int(i) for i in ids])
        return self.sp.decode([int(i) for i in ids])

    def _check(self, ids: list[int]) -> None:
        bad = next((i for i in ids if not 0 <= i < self.vocab_size), None)
        if bad is not None:
            raise TokenizerError('tokenizer.bad_id', id=bad, max=self.vocab_size - 1)

    def token_bytes(self, id: int) -> bytes:
        """A byte piece <0xNN> is that byte; control pieces are empty; '▁' stands for a space."""
        self._check([int(id)])
        if self.sp.is_byte(id):
            return bytes([int(self.sp.id_to_piece(id)[3:5], 16)])
        if self.sp.is_control(id) or self.sp.is_unknown(id):
            return b''
        return self.sp.id_to_piece(id).replace('\u2581', ' ').encode('utf-8')

    def byte_spans(self, text: str) -> list[tuple[int, int, int]]:
        """Token positions from SentencePiece's own offsets, right even where a piece differs from the text."""
        spans, pos = [], 0
        for p in self.sp.encode(text, out_type='proto').pieces:
            if self.sp.is_byte(p.id):  # byte pieces of one character carry no offsets of their own: one byte each
                spans.append((p.id, pos, pos + 1))
                pos += 1
            else:
                spans.append((p.id, p.begin, p.end))
                pos = p.end
        return spans


class _Lines:
    """The training lines, remembering whether any held more than whitespace (to explain an empty training set)."""

    def __init__(self, lines: Iterable[str]):
        self.lines, self.seen_text = lines, False

    def __iter__(self) -> Iterator[str]:
        for line in self.lines:
            if line.strip():
                self.seen_text = True
            yield line
