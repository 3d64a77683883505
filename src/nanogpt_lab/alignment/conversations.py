"""Conversations data: JSONL in the three common shapes or a named Hugging Face dataset, checked line by line and
stored tokenizer-agnostic in `<data_dir>/<name>/`, split so that no prompt is in both train and val.

Shapes, detected per line (the one found is reported):
- OpenAI: `{"messages": [{"role": "user", "content": "..."}, ...]}`
- ShareGPT: `{"conversations": [{"from": "human"|"gpt"|"system", "value": "..."}, ...]}`
- Alpaca: `{"instruction": "...", "input": "...", "output": "..."}` (Dolly's instruction/context/response too)

Bad lines (not UTF-8, not JSON, no known shape, a missing or unknown role, roles out of order, an empty assistant
answer, a message over MAX_TURN_CHARS) are skipped, each listed with its line number and reason. A file with no
good line at all is refused, and nothing is written. The folder holds:

    train.jsonl, val.jsonl     one conversation per line: {"messages": [...], "kind": optional task kind}
    conversations.json         format, version, source (file, shape, Hugging Face name and licence), skipped lines
    stats.json                 counts for the stage 7 charts (tokens come later: they depend on the base model)
"""

from __future__ import annotations

import hashlib
import json
from collections import Counter
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from nanogpt_lab.alignment.errors import AlignmentError
from nanogpt_lab.alignment.template import check_messages
from nanogpt_lab.events import Emit, emit_log, null_emit
from nanogpt_lab.fileio import atomic_write_text
from nanogpt_lab.messages import ref, render

CONV_FORMAT = 'nanogpt-lab-conversations'
CONV_VERSION = 1
MANIFEST_FILE = 'conversations.json'
STATS_FILE = 'stats.json'
SPLITS = ('train', 'val')
MAX_TURN_CHARS = 32_768  # one message; longer ones (a pasted book, a 10 MB line) are skipped with a reason
MAX_FILE_BYTES = 2 << 30
MAX_LISTED = 50  # problems listed in conversations.json (all are counted)
SHAREGPT_ROLES = {
    'human': 'user', 'user': 'user', 'gpt': 'assistant', 'assistant': 'assistant', 'chatgpt': 'assistant',
    'bard': 'assistant', 'bing': 'assistant', 'system': 'system',
}  # fmt: skip
# named datasets the lab knows how to read: their split and licence (shown before use)
NAMED_DATASETS = {
    'HuggingFaceTB/everyday-conversations-llama3.1-2k': {'split': 'train_sft', 'licence': 'Apache-2.0'},
    'databricks/databricks-dolly-15k': {'split': 'train', 'licence': 'CC BY-SA 3.0'},
}


@dataclass
class Problem:
    """One skipped line: where, and why (a catalog code and its parameters)."""

    line: int
    code: str
    params: dict[str, Any] = field(default_factory=dict)

    def ref(self) -> dict[str, Any]:
        """'line N: what is wrong', as a message a page renders in its language."""
        return ref('alignment_engine.at_line', line=self.line, error=ref(self.code, **self.params))

    @property
    def message(self) -> str:
        return render(**self.ref())

    def to_json(self) -> dict[str, Any]:
        return {'line': self.line, 'code': self.code, 'params': self.params, 'message': self.message}


@dataclass
class Parsed:
    """What a JSONL file (or a dataset's rows) held: the good conversations, the shapes found, the skipped lines."""

    conversations: list[dict[str, Any]] = field(default_factory=list)
    shapes: Counter = field(default_factory=Counter)
    problems: list[Problem] = field(default_factory=list)
    lines: int = 0

    def add(self, line: int, row: Any) -> None:
        """Check one row and keep it, or record why not."""
        try:
            messages, shape = to_messages(row)
            _check_lengths(messages)
            conv: dict[str, Any] = {'messages': check_messages(messages, complete=True)}
        except AlignmentError as e:
            self.problems.append(Problem(line, e.code, e.params))
            return
        if isinstance(row.get('kind'), str):
            conv['kind'] = row['kind']
        self.shapes[shape] += 1
        self.conversations.append(conv)


def to_messages(row: Any) -> tuple[list[dict[str, Any]], str]:
    """A row in any of the three shapes as OpenAI-style messages, and the shape's name."""
    if not isinstance(row, Mapping):
        raise AlignmentError('alignment_engine.not_object')
    if 'messages' in row:
        return [_openai_message(m) for m in _as_list(row['messages'], 'messages')], 'openai'
    if 'conversations' in row:
        return [_sharegpt_message(m) for m in _as_list(row['conversations'], 'conversations')], 'sharegpt'
    answer = row.get('output', row.get('response'))
    if 'instruction' in row and answer is not None:
        return _alpaca_messages(row, answer), 'alpaca'
    raise AlignmentError('alignment_engine.unknown_shape')


def _as_list(value: Any, key: str) -> list:
    if not isinstance(value, list):
        raise AlignmentError('alignment_engine.not_list', key=key)
    return value


def _openai_message(m: Any) -> dict[str, Any]:
    if not isinstance(m, Mapping):
        return {}
    content = m.get('content')
    if isinstance(content, list):  # OpenAI's content parts: keep the text ones
        content = ''.join(p.get('text', '') for p in content if isinstance(p, Mapping) and p.get('type') == 'text')
    return {'role': m.get('role'), 'content': content}


def _sharegpt_message(m: Any) -> dict[str, Any]:
    if not isinstance(m, Mapping):
        return {}
    who = m.get('from', m.get('role'))
    role = SHAREGPT_ROLES.get(who.lower(), who) if isinstance(who, str) else who
    return {'role': role, 'content': m.get('value', m.get('content'))}


def _alpaca_messages(row: Mapping[str, Any], answer: Any) -> list[dict[str, Any]]:
    extra = row.get('input') or row.get('context') or ''
    instruction = row.get('instruction')
    if isinstance(instruction, str) and isinstance(extra, str) and extra.strip():
        instruction = f'{instruction}\n\n{extra}'
    system = row.get('system')
    head = [{'role': 'system', 'content': system}] if isinstance(system, str) and system.strip() else []
    return [*head, {'role': 'user', 'content': instruction}, {'role': 'assistant', 'content': answer}]


def _check_lengths(messages: list[dict[str, Any]]) -> None:
    for i, m in enumerate(messages):
        if isinstance(m.get('content'), str) and len(m['content']) > MAX_TURN_CHARS:
            raise AlignmentError(
                'alignment_engine.turn_too_long', turn=i + 1, chars=len(m['content']), limit=MAX_TURN_CHARS
            )


def parse_jsonl(path: str | Path) -> Parsed:
    """Read a JSONL file line by line: every line either becomes a conversation or a Problem with its number."""
    path = Path(path).expanduser()
    if not path.is_file():
        raise AlignmentError('alignment_engine.no_file', path=path)
    if path.stat().st_size > MAX_FILE_BYTES:
        raise AlignmentError('alignment_engine.file_too_big', path=path, limit=MAX_FILE_BYTES >> 30)
    parsed = Parsed()
    with open(path, 'rb') as f:
        for n, raw in enumerate(f, 1):
            parsed.lines = n
            if n == 1:
                raw = raw.removeprefix(b'\xef\xbb\xbf')  # a UTF-8 byte order mark (Windows editors write one)
            if not raw.strip():
                continue
            row = _decode_line(parsed, n, raw)
            if row is not None:
                parsed.add(n, row)
    return parsed


def _decode_line(parsed: Parsed, n: int, raw: bytes) -> Any:
    try:
        text = raw.decode('utf-8')
    except UnicodeDecodeError as e:
        parsed.problems.append(Problem(n, 'alignment_engine.not_utf8', {'byte': e.start + 1}))
        return None
    try:
        return json.loads(text)
    except ValueError as e:
        parsed.problems.append(Problem(n, 'alignment_engine.not_json', {'detail': str(getattr(e, 'msg', e))}))
        return None


def parse_rows(rows: Iterable[Mapping[str, Any]]) -> Parsed:
    """The same checks for a dataset's rows (numbered from 1 like lines)."""
    parsed = Parsed()
    for n, row in enumerate(rows, 1):
        parsed.lines = n
        parsed.add(n, dict(row))
    return parsed


# --- splitting, statistics, writing ----------------------------------------------------------------------------------


def first_prompt(conv: Mapping[str, Any]) -> str:
    """The conversation's first user message: what 'the same prompt' means for the split."""
    return next(m['content'] for m in conv['messages'] if m['role'] == 'user')


def split_by_prompt(conversations: list[dict[str, Any]], val_fraction: float) -> dict[str, list[dict[str, Any]]]:
    """Train and val by a hash of the first prompt: repeats of one prompt land together, so val is truly held out.

    Deterministic (no seed needed); at least one prompt goes to val when there are two or more.
    """
    cut = int(val_fraction * 2**32)
    h = {p: int.from_bytes(hashlib.sha256(p.encode()).digest()[:4], 'big') for p in map(first_prompt, conversations)}
    if not any(v < cut for v in h.values()) and len(h) > 1:
        cut = min(h.values()) + 1
    out: dict[str, list[dict[str, Any]]] = {'train': [], 'val': []}
    for conv in conversations:
        out['val' if h[first_prompt(conv)] < cut else 'train'].append(conv)
    return out


def conversation_stats(conversations: list[dict[str, Any]]) -> dict[str, Any]:
    """Counts for one split: conversations, turns, characters, the assistant's share, kinds, a length histogram."""
    chars = [sum(len(m['content']) for m in c['messages']) for c in conversations]
    answer = sum(len(m['content']) for c in conversations for m in c['messages'] if m['role'] == 'assistant')
    edges = [0, 16, 32, 64, 128, 256, 512, 1024, 2048, 4096]
    hist = Counter(max(e for e in edges if e <= n) for n in chars)
    return {
        'conversations': len(conversations),
        'turns': sum(sum(m['role'] != 'system' for m in c['messages']) for c in conversations),
        'characters': sum(chars),
        'assistant_characters': answer,
        'assistant_share': round(answer / sum(chars), 4) if sum(chars) else 0.0,
        'kinds': dict(sorted(Counter(c.get('kind', 'conversation') for c in conversations).items())),
        'length_histogram': [{'from_chars': e, 'conversations': hist.get(e, 0)} for e in edges],
    }


def write_conversations(
    folder: Path, splits: Mapping[str, list[dict[str, Any]]], source: Mapping[str, Any], emit: Emit = null_emit
) -> Path:
    """Write the splits, conversations.json and stats.json (each file atomically); refuse an empty split."""
    for name in SPLITS:
        if not splits.get(name):
            raise AlignmentError('alignment_engine.empty_split', split=name)
    folder.mkdir(parents=True, exist_ok=True)
    digests = {}
    for name in SPLITS:
        text = ''.join(json.dumps(c, ensure_ascii=False) + '\n' for c in splits[name])
        atomic_write_text(folder / f'{name}.jsonl', text)
        digests[name] = hashlib.sha256(text.encode('utf-8')).hexdigest()
    stats = {'version': CONV_VERSION, **{name: conversation_stats(splits[name]) for name in SPLITS}}
    atomic_write_text(folder / STATS_FILE, json.dumps(stats, indent=2, ensure_ascii=False) + '\n')
    manifest = {'format': CONV_FORMAT, 'version': CONV_VERSION, 'name': folder.name, 'source': dict(source)}
    manifest['sha256'] = digests
    atomic_write_text(folder / MANIFEST_FILE, json.dumps(manifest, indent=2, ensure_ascii=False) + '\n')
    emit_log(emit, 'log.alignment_engine.conversations_written', path=folder, train=len(splits['train']),
             val=len(splits['val']))  # fmt: skip
    return folder


def read_conversations(folder: Path, split: str) -> list[dict[str, Any]]:
    """One split of a prepared conversations folder."""
    path = folder / f'{split}.jsonl'
    if not path.is_file():
        raise AlignmentError('alignment_engine.no_conversations_folder', path=folder)
    with open(path, encoding='utf-8') as f:
        return [json.loads(line) for line in f if line.strip()]


def read_manifest(folder: Path) -> dict[str, Any]:
    """conversations.json, checked for format and version."""
    try:
        doc = json.loads((folder / MANIFEST_FILE).read_text(encoding='utf-8'))
    except (OSError, ValueError):
        doc = None
    if not isinstance(doc, dict) or doc.get('format') != CONV_FORMAT or int(doc.get('version', 99)) > CONV_VERSION:
        raise AlignmentError('alignment_engine.old_conversations', path=folder)
    return doc


# --- preparing from a file or a named dataset -----------------------------------------------------------------------


def _report(parsed: Parsed, where: str, emit: Emit) -> None:
    """Say which shape was found and which lines were skipped; refuse when nothing is left."""
    for p in parsed.problems[:10]:
        emit_log(emit, 'log.alignment_engine.skipped', 'warning', error=p.ref(), line=p.line, problem=p.code)
    if len(parsed.problems) > 10:
        emit_log(emit, 'log.alignment_engine.skipped_more', 'warning', n=len(parsed.problems) - 10)
    if not parsed.conversations:
        first = [p.ref() for p in parsed.problems[:3]] or [ref('alignment_engine.no_lines')]
        raise AlignmentError('alignment_engine.no_conversations', where=where, problems=first)
    shapes = ', '.join(f'{shape} ({n:,})' for shape, n in parsed.shapes.most_common())
    emit_log(emit, 'log.alignment_engine.shape_found', where=where, shapes=shapes, kept=len(parsed.conversations),
             skipped=len(parsed.problems), shape_counts=dict(parsed.shapes))  # fmt: skip


def _source(kind: str, parsed: Parsed, **extra: Any) -> dict[str, Any]:
    return {
        'kind': kind,
        **extra,
        'shapes': dict(parsed.shapes),
        'lines': parsed.lines,
        'skipped': len(parsed.problems),
        'problems': [p.to_json() for p in parsed.problems[:MAX_LISTED]],
    }


def prepare_file(path: str, folder: Path, val_fraction: float, emit: Emit = null_emit) -> Path:
    """`prepare conversations --input FILE`: parse, report, split by prompt, write."""
    parsed = parse_jsonl(path)
    _report(parsed, str(path), emit)
    splits = split_by_prompt(parsed.conversations, val_fraction)
    return write_conversations(folder, splits, _source('file', parsed, path=str(Path(path).resolve())), emit)


def prepare_hf(name: str, folder: Path, val_fraction: float, max_rows: int, emit: Emit = null_emit) -> Path:
    """`prepare conversations --hf NAME`: download through `datasets` (online), show its licence, then as a file."""
    known = NAMED_DATASETS.get(name, {})
    if known:
        emit_log(emit, 'log.alignment_engine.hf_licence', dataset=name, licence=known['licence'])
    rows, declared = hf_rows(name, known.get('split', 'train'), max_rows)
    licence = declared or known.get('licence')
    if not known:
        emit_log(emit, 'log.alignment_engine.hf_licence', dataset=name,
                 licence=licence or ref('alignment_engine.licence_unknown'))  # fmt: skip
    parsed = parse_rows(rows)
    _report(parsed, name, emit)
    splits = split_by_prompt(parsed.conversations, val_fraction)
    return write_conversations(folder, splits, _source('huggingface', parsed, dataset=name, licence=licence), emit)


def hf_rows(name: str, split: str, max_rows: int) -> tuple[list[dict[str, Any]], str | None]:
    """The first `max_rows` rows of a Hugging Face dataset split and its declared licence; offline is said plainly."""
    try:
        import datasets
    except ImportError:
        raise AlignmentError('alignment_engine.no_datasets') from None
    try:
        ds = datasets.load_dataset(name, split=split)
    except (OSError, ConnectionError, ValueError) as e:  # offline, unknown name, gated, or a missing split
        raise AlignmentError('alignment_engine.hf_unavailable', dataset=name, reason=e.__class__.__name__) from None
    licence = getattr(getattr(ds, 'info', None), 'license', None) or None
    return [dict(r) for r in ds.select(range(min(max_rows, len(ds))))], licence
