"""The chat template: four special tokens appended to a base vocabulary, and the one renderer of conversations.

A conversation is a list of messages `{'role': 'system'|'user'|'assistant', 'content': str}`: at most one system
message, first; then user and assistant in turns, starting with the user. Each message renders as its role's start
token, its content in the base tokenizer, and `<|end|>`:

    <|system|>Answer briefly.<|end|><|user|>What is 2 + 3?<|end|><|assistant|>5<|end|>

`render_conversation` returns the ids and, beside them, the loss mask: 1 on the tokens a model learns to write
(assistant content and the `<|end|>` that closes it), 0 elsewhere. Every caller (SFT batches, evaluation, chat,
the stage 7 x-ray, preference pairs) renders through it, so training and generation see the same tokens.

Ids. The special tokens take the ids right after the base vocabulary: 50257-50260 for GPT-2 BPE (inside nanoGPT's
padded 50304 rows), 65-68 for tiny Shakespeare's characters. A char base also gets, after them, the characters the
conversations need and it lacks (digits, Chinese...). New rows start at the mean of the base's embedding rows.
`chat.json` (in the run folder, and in the tokenized data folder) records all of it.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterable, Mapping, Sequence
from pathlib import Path
from typing import Any

from nanogpt_lab.alignment.errors import AlignmentError
from nanogpt_lab.fileio import atomic_write_bytes, atomic_write_text
from nanogpt_lab.tokenizers.base import Tokenizer, TokenizerError
from nanogpt_lab.tokenizers.char import CharTokenizer

SYSTEM = '<|system|>'
USER = '<|user|>'
ASSISTANT = '<|assistant|>'
END = '<|end|>'
SPECIAL_TOKENS = (SYSTEM, USER, ASSISTANT, END)  # in id order, right after the base vocabulary
ROLE_START = {'system': SYSTEM, 'user': USER, 'assistant': ASSISTANT}
ROLES = tuple(ROLE_START)

CHAT_FILE = 'chat.json'
CHAT_FORMAT = 'nanogpt-lab-chat'
CHAT_VERSION = 1
TEMPLATE = {
    'system': SYSTEM + '{content}' + END,
    'user': USER + '{content}' + END,
    'assistant': ASSISTANT + '{content}' + END,
    'generation_prompt': ASSISTANT,
    'trained': 'the content of each assistant message and the <|end|> that closes it',
    'system_message': 'optional, first message only, never trained',
}


class ChatTokenizer(Tokenizer):
    """A base tokenizer (char or GPT-2 BPE) plus the special tokens and any added characters.

    `encode` reads ordinary text only: a user who types `<|end|>` gets those characters, never the token.
    """

    name = 'chat'

    def __init__(self, kind: str, base: Tokenizer, base_vocab_size: int, added_chars: Sequence[str] = ()):
        assert kind in ('char', 'gpt2'), kind  # chat_tokenizer_for and from_json pass only these
        self.kind, self.base, self.base_vocab_size = kind, base, int(base_vocab_size)
        self.special_ids = {tok: self.base_vocab_size + i for i, tok in enumerate(SPECIAL_TOKENS)}
        first_added = self.base_vocab_size + len(SPECIAL_TOKENS)
        self.added_chars = list(added_chars)
        self._added_ids = {c: first_added + i for i, c in enumerate(self.added_chars)}
        self._id_text = {i: tok for tok, i in self.special_ids.items()} | {i: c for c, i in self._added_ids.items()}
        self.end_id = self.special_ids[END]
        self.stop_ids = frozenset(self.special_ids.values())  # an answer ends at <|end|>, or at any turn start

    @property
    def vocab_size(self) -> int:
        return self.base_vocab_size + len(SPECIAL_TOKENS) + len(self.added_chars)

    def role_id(self, role: str) -> int:
        """The id of a role's start token."""
        return self.special_ids[ROLE_START[role]]

    def encode(self, text: str) -> list[int]:
        """Ordinary text -> ids (special tokens are never produced from text)."""
        if self.kind == 'gpt2':
            return self.base.encode_ordinary(text)
        ids = []
        for i, c in enumerate(text):
            found = self.base.stoi.get(c)
            if found is None:
                found = self._added_ids.get(c)
            if found is None:
                raise AlignmentError(
                    'alignment_engine.unknown_char',
                    char=c,
                    codepoint=f'{ord(c):04X}',
                    position=i,
                    vocab=self.vocab_size,
                )
            ids.append(found)
        return ids

    def token_bytes(self, id: int) -> bytes:
        """A base token's bytes; a special token's name; an added character's UTF-8."""
        id = int(id)
        if 0 <= id < self.base_vocab_size:
            return self.base.token_bytes(id)
        if id in self._id_text:
            return self._id_text[id].encode('utf-8')
        raise TokenizerError(f'token id {id} is outside this chat vocabulary (0..{self.vocab_size - 1})')

    def decode(self, ids: Sequence[int]) -> str:
        """Ids -> text, special tokens written by name."""
        return b''.join(self.token_bytes(i) for i in ids).decode('utf-8', errors='replace')

    def is_special(self, id: int) -> bool:
        """Whether `id` is one of the four special tokens."""
        return int(id) in self.stop_ids

    def chars_needed(self, text: str) -> set[str]:
        """The characters of `text` this tokenizer cannot encode (always none for GPT-2 BPE)."""
        if self.kind == 'gpt2':
            return set()
        return {c for c in set(text) if c not in self.base.stoi and c not in self._added_ids}

    def with_chars(self, chars: Iterable[str]) -> ChatTokenizer:
        """This tokenizer with more characters appended (sorted; ids already given never move)."""
        new = sorted(self.chars_needed(''.join(set(chars))))
        if not new:
            return self
        return ChatTokenizer(self.kind, self.base, self.base_vocab_size, [*self.added_chars, *new])

    def to_json(self) -> dict[str, Any]:
        """The `chat.json` document: format, version, tokenizer, special token ids, template."""
        tok: dict[str, Any] = {'kind': self.kind, 'base_vocab_size': self.base_vocab_size}
        if self.kind == 'char':
            tok['base_chars'] = list(self.base.chars)
        tok['added_chars'] = list(self.added_chars)
        return {
            'format': CHAT_FORMAT,
            'version': CHAT_VERSION,
            'vocab_size': self.vocab_size,
            'special_tokens': dict(self.special_ids),
            'template': TEMPLATE,
            'tokenizer': tok,
        }

    @classmethod
    def from_json(cls, doc: Mapping[str, Any], where: str = CHAT_FILE) -> ChatTokenizer:
        """Rebuild from a `chat.json` document, checking its format, version and ids (`where` names it in errors)."""
        if not isinstance(doc, Mapping) or doc.get('format') != CHAT_FORMAT:
            raise AlignmentError('alignment_engine.chat_file_format', path=where)
        if not isinstance(doc.get('version'), int) or doc['version'] > CHAT_VERSION:
            raise AlignmentError(
                'alignment_engine.chat_file_version',
                path=where,
                version=str(doc.get('version')),
                supported=CHAT_VERSION,
            )
        tok = doc.get('tokenizer') or {}
        kind = tok.get('kind')
        if kind == 'char':
            base: Tokenizer = CharTokenizer(tok.get('base_chars') or [])
        elif kind == 'gpt2':
            from nanogpt_lab.tokenizers.gpt2 import GPT2Tokenizer

            base = GPT2Tokenizer()
        else:
            raise AlignmentError('alignment_engine.chat_file_tokenizer', path=where, kind=str(kind))
        out = cls(kind, base, int(tok.get('base_vocab_size', base.vocab_size)), tok.get('added_chars') or [])
        if out.special_ids != {k: int(v) for k, v in (doc.get('special_tokens') or {}).items()}:
            raise AlignmentError('alignment_engine.chat_file_ids', path=where)
        return out

    def nanogpt_meta(self) -> dict[str, Any]:
        """A char chat vocabulary as nanoGPT's meta.pkl, so its sample.py decodes every id (tokens by name)."""
        assert self.kind == 'char', 'only a char vocabulary has a meta.pkl'
        itos = {i: self.base.itos[i] for i in range(self.base_vocab_size)} | self._id_text
        return {'vocab_size': self.vocab_size, 'itos': itos, 'stoi': {s: i for i, s in itos.items()}}


def chat_tokenizer_for(base: Tokenizer, text_chars: Iterable[str] = ()) -> ChatTokenizer:
    """The chat vocabulary over `base` (char, GPT-2 BPE, or an existing chat vocabulary), with the characters
    `text_chars` needs added for a char base. Any other tokenizer is refused: its ids could not be told apart."""
    from nanogpt_lab.tokenizers.gpt2 import GPT2Tokenizer

    if isinstance(base, ChatTokenizer):
        return base.with_chars(text_chars)
    if isinstance(base, CharTokenizer):
        return ChatTokenizer('char', base, base.vocab_size).with_chars(text_chars)
    if isinstance(base, GPT2Tokenizer):
        return ChatTokenizer('gpt2', base, base.vocab_size)
    raise AlignmentError('alignment_engine.unknown_tokenizer', kind=base.name)


# --- the renderer ---------------------------------------------------------------------------------------------------


def check_messages(messages: Any, *, complete: bool) -> list[dict[str, str]]:
    """The messages as plain dicts, or an AlignmentError naming the first problem.

    `complete`: a training conversation (ends with a non-empty assistant answer); otherwise a prompt (ends with
    the user's message, the assistant's turn next).
    """
    if not isinstance(messages, list) or not messages:
        raise AlignmentError('alignment_engine.no_messages')
    out = []
    for i, m in enumerate(messages):
        role = m.get('role') if isinstance(m, Mapping) else None
        content = m.get('content') if isinstance(m, Mapping) else None
        if role is None:
            raise AlignmentError('alignment_engine.missing_role', turn=i + 1)
        if role not in ROLE_START:
            raise AlignmentError('alignment_engine.unknown_role', turn=i + 1, role=str(role)[:40])
        if not isinstance(content, str):
            raise AlignmentError('alignment_engine.not_text', turn=i + 1, role=role)
        out.append({'role': role, 'content': content})
    _check_order([m['role'] for m in out], complete)
    if complete and any(m['role'] == 'assistant' and not m['content'].strip() for m in out):
        n = next(i for i, m in enumerate(out) if m['role'] == 'assistant' and not m['content'].strip())
        raise AlignmentError('alignment_engine.empty_assistant', turn=n + 1)
    return out


def _check_order(roles: list[str], complete: bool) -> None:
    """Optional system first, then user / assistant alternating from the user, ending as `complete` says."""
    turns = roles[1:] if roles[0] == 'system' else roles
    expected = ['user', 'assistant'] * (len(turns) // 2 + 1)
    for i, (got, want) in enumerate(zip(turns, expected, strict=False)):
        if got != want:
            n = i + 1 + (roles[0] == 'system')
            raise AlignmentError('alignment_engine.role_order', turn=n, role=got, expected=want)
    last = turns[-1] if turns else 'system'
    if complete and last != 'assistant':
        raise AlignmentError('alignment_engine.no_answer')
    if not complete and last != 'user':
        raise AlignmentError('alignment_engine.no_question')


def render_conversation(messages: Sequence[Mapping[str, str]], tokenizer: ChatTokenizer) -> tuple[list[int], list[int]]:
    """(ids, mask): the conversation's token ids and, per token, 1 if a model is trained to write it, else 0."""
    ids: list[int] = []
    mask: list[int] = []
    for m in messages:
        content = tokenizer.encode(m['content'])
        trained = int(m['role'] == 'assistant')
        ids += [tokenizer.role_id(m['role']), *content, tokenizer.end_id]
        mask += [0, *([trained] * len(content)), trained]
    return ids, mask


def render_prompt(messages: Sequence[Mapping[str, str]], tokenizer: ChatTokenizer) -> list[int]:
    """The ids a model continues to answer: the conversation so far, then the assistant's start token."""
    ids, _ = render_conversation(messages, tokenizer)
    return [*ids, tokenizer.special_ids[ASSISTANT]]


def targets(ids: Sequence[int], mask: Sequence[int]) -> list[int]:
    """The training targets for inputs ids[:-1]: the next id where it is trained, -1 (ignored) elsewhere."""
    return [t if m else -1 for t, m in zip(ids[1:], mask[1:], strict=True)]


# --- chat.json ------------------------------------------------------------------------------------------------------


def save_chat(folder: str | Path, tokenizer: ChatTokenizer) -> Path:
    """Write `chat.json` into `folder`, atomically."""
    path = Path(folder) / CHAT_FILE
    atomic_write_text(path, json.dumps(tokenizer.to_json(), indent=2, ensure_ascii=False) + '\n')
    return path


def vocabulary_folder_name(name: str, tokenizer: ChatTokenizer, key: str) -> str:
    """`<name>.<kind>-<digest>`: the folder beside `name` that holds it in one chat vocabulary (a packed copy, a DPO
    checkpoint's vocabulary), the digest of `key` (what the folder's content depends on) telling vocabularies apart."""
    return f'{name}.{tokenizer.kind}-{hashlib.sha256(key.encode()).hexdigest()[:8]}'


def save_vocabulary(folder: str | Path, tokenizer: ChatTokenizer) -> None:
    """A data folder's copy of the chat vocabulary its checkpoints name: chat.json, and for a char vocabulary
    nanoGPT's meta.pkl, which nanoGPT's sample.py reads from data/<the checkpoint's dataset>/ to decode."""
    save_chat(folder, tokenizer)
    if tokenizer.kind == 'char':
        import pickle

        from nanogpt_lab.tokenizers.char import META_PICKLE_PROTOCOL

        meta = pickle.dumps(tokenizer.nanogpt_meta(), protocol=META_PICKLE_PROTOCOL)
        atomic_write_bytes(Path(folder) / 'meta.pkl', meta)


def load_chat(folder: str | Path) -> ChatTokenizer | None:
    """The chat vocabulary recorded in `folder/chat.json` (a run or a tokenized data folder), or None without one."""
    path = Path(folder) / CHAT_FILE
    if not path.is_file():
        return None
    try:
        doc = json.loads(path.read_text(encoding='utf-8'))
    except (OSError, ValueError) as e:
        raise AlignmentError('alignment_engine.chat_file_unreadable', path=path, reason=e.__class__.__name__) from None
    return ChatTokenizer.from_json(doc, str(path))
