"""Preference pairs: TRL's JSONL shape read, checked, and kept as a dataset folder that the DPO loop reads.

A line is one pair: a prompt, then two answers to it, `chosen` (preferred) and `rejected`. The prompt is `prompt`
(text, or a list of messages) or `messages` (the conversation so far; `prompt` wins where a row has both). An
answer is text, or a list of messages that may repeat the prompt first, as many Hugging Face datasets store it.
With no prompt at all, the answers must be conversations that begin with the same turns: those turns are the
prompt (TRL's "implicit prompt"). A file's bad lines are left out and listed by number, each with its code; a file
with no usable pair is refused.

On disk a preference dataset is `data/<name>/`: `train.jsonl` and `val.jsonl` (one normalised pair per line:
`prompt` as messages, `chosen` and `rejected` as text, the source `line`, and optional labels such as the task
`kind`), and `preferences.json` (format, version, source, counts), written last so its presence means complete.
Pairs stay text: the run's own chat template turns them into tokens, so one dataset serves any model. A DPO
checkpoint names, as its dataset, a folder beside the pairs that holds its vocabulary and names the pairs
(`with_vocabulary`: `<name>.<kind>-<digest>/` with chat.json, nanoGPT's meta.pkl for a char model, vocabulary.json).
"""

from __future__ import annotations

import hashlib
import json
import time
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any, BinaryIO

from nanogpt_lab.alignment.errors import AlignmentError
from nanogpt_lab.alignment.template import ChatTokenizer, check_messages, save_vocabulary, vocabulary_folder_name
from nanogpt_lab.errors import LabError
from nanogpt_lab.events import Emit, emit_log, null_emit
from nanogpt_lab.fileio import atomic_write_text, write_folder
from nanogpt_lab.messages import ref
from nanogpt_lab.workspace import check_name

FORMAT = 'nanogpt-lab/preferences'
LAB_PREFERENCES = 'lab-preferences'  # the dataset `prepare lab-preferences` writes (alignment.lab_preferences)
VERSION = 1
INFO_FILE = 'preferences.json'
VOCABULARY_FILE = 'vocabulary.json'  # in a DPO checkpoint's dataset folder: the pairs it names (`with_vocabulary`)
VOCABULARY_FORMAT = 'nanogpt-lab/preferences-vocabulary'
SPLITS = ('train', 'val')
MAX_LINE_BYTES = 4_000_000  # one pair of a million characters is far past any block_size a lab model has
MAX_REPORTED = 3  # problems named in a refusal; the count says how many there were
MAX_LISTED = 50  # problems listed as log events and in preferences.json (all are counted)


@dataclass(frozen=True)
class Pair:
    """One preference: the conversation so far (ending with the user's turn) and two answers, the chosen better."""

    prompt: tuple[tuple[str, str], ...]  # (role, content) turns
    chosen: str
    rejected: str
    line: int = 0  # 1-based line in the source file; 0 when the pair did not come from a file
    labels: Mapping[str, Any] = field(default_factory=dict)  # e.g. {'kind': 'add', 'lang': 'zh', 'why': 'checker'}

    def messages(self) -> list[dict[str, str]]:
        """The prompt as OpenAI-style messages."""
        return [{'role': r, 'content': c} for r, c in self.prompt]

    def conversation(self, answer: str) -> list[dict[str, str]]:
        """The prompt followed by one answer: what the chat template renders."""
        return [*self.messages(), {'role': 'assistant', 'content': answer}]

    def to_json(self) -> dict[str, Any]:
        """The line `train.jsonl`/`val.jsonl` store (TRL's conversational shape, plus our labels)."""
        return {'prompt': self.messages(), 'chosen': self.chosen, 'rejected': self.rejected, 'line': self.line,
                **dict(self.labels)}  # fmt: skip


# --- one line ---------------------------------------------------------------------------------------------------


def _fail(line: int, code: str, **params: Any) -> AlignmentError:
    """A refusal of one pair; `line` goes with it so that a file's reader can say where (`at_line`)."""
    return AlignmentError(f'dpo.{code}', line=line, **params)


def at_line(e: AlignmentError) -> dict[str, Any]:
    """A refusal as a message naming its line: 'line 7: chosen and rejected are the same answer ...'."""
    return ref('dpo.at_line', line=e.params.get('line'), problem=ref(e.code, **e.params))


def _plain(m: Any) -> Any:
    """A message as role and content only (datasets add keys such as `name`); anything else as it is."""
    return {'role': m.get('role'), 'content': m.get('content')} if isinstance(m, dict) else m


def _messages(value: Any, line: int, key: str) -> list[Any]:
    if not isinstance(value, list) or not value:
        raise _fail(line, 'bad_messages', key=key)
    return [_plain(m) for m in value]


def _checked(messages: list[Any], line: int, key: str, *, complete: bool) -> list[dict[str, str]]:
    """The template's own check of roles and order, its refusal given the line and the field."""
    try:
        return check_messages(messages, complete=complete)
    except AlignmentError as e:
        raise _fail(line, 'bad_turn', key=key, problem=ref(e.code, **e.params)) from None


def _answer(value: Any, prompt: list[Any] | None, line: int, key: str) -> tuple[list[Any], Any]:
    """(the turns before the answer, the answer message) of `chosen` or `rejected`."""
    if isinstance(value, str):
        return [], {'role': 'assistant', 'content': value}
    turns = _messages(value, line, key)
    if prompt is None:  # the implicit prompt: the caller compares what the two answers begin with
        return turns[:-1], turns[-1]
    if len(turns) > 1:
        if turns[: len(prompt)] != prompt:
            raise _fail(line, 'answer_not_after_prompt', key=key)
        turns = turns[len(prompt) :]
    if len(turns) != 1:
        raise _fail(line, 'not_one_answer', key=key)
    return [], turns[0]


def parse_pair(obj: Any, line: int = 0) -> Pair:
    """One JSON value as a Pair, or an AlignmentError naming the line and what is wrong with it."""
    if not isinstance(obj, dict):
        raise _fail(line, 'not_object')
    missing = [k for k in ('chosen', 'rejected') if k not in obj]
    if missing:
        raise _fail(line, 'missing_answers', key=missing[0])
    raw = obj['prompt'] if obj.get('prompt') is not None else obj.get('messages')  # ultrafeedback has both
    prompt = None
    if raw is not None:
        prompt = [{'role': 'user', 'content': raw}] if isinstance(raw, str) else _messages(raw, line, 'prompt')
    lead_w, answer_w = _answer(obj['chosen'], prompt, line, 'chosen')
    lead_l, answer_l = _answer(obj['rejected'], prompt, line, 'rejected')
    if prompt is None:
        if not lead_w or lead_w != lead_l:
            raise _fail(line, 'no_shared_prompt')
        prompt = lead_w
    prompt = _checked(prompt, line, 'prompt', complete=False)
    chosen = _checked([*prompt, answer_w], line, 'chosen', complete=True)[-1]['content']
    rejected = _checked([*prompt, answer_l], line, 'rejected', complete=True)[-1]['content']
    if chosen.strip() == rejected.strip():
        raise _fail(line, 'same_answers')
    labels = {k: obj[k] for k in ('kind', 'lang', 'why') if isinstance(obj.get(k), str)}
    return Pair(tuple((m['role'], m['content']) for m in prompt), chosen, rejected, line, labels)


# --- a file -----------------------------------------------------------------------------------------------------


def _raw_lines(f: BinaryIO) -> Iterator[tuple[bytes, bool]]:
    """(line, whole) for each line, never holding more than MAX_LINE_BYTES of one: an overlong line is skipped."""
    while True:
        raw = f.readline(MAX_LINE_BYTES + 1)
        if not raw:
            return
        if len(raw) <= MAX_LINE_BYTES or raw.endswith(b'\n'):
            yield raw, True
            continue
        while raw and not raw.endswith(b'\n'):  # the rest of the overlong line, in bounded reads
            raw = f.readline(MAX_LINE_BYTES)
        yield b'', False


def _lines(path: Path) -> Iterator[tuple[int, Any]]:
    """(line number, the parsed JSON, or the AlignmentError that says why the line cannot be read), blanks skipped."""
    with open(path, 'rb') as f:
        for number, (raw, whole) in enumerate(_raw_lines(f), start=1):
            if not whole:
                yield number, _fail(number, 'line_too_long', limit=MAX_LINE_BYTES)
                continue
            try:
                text = raw.decode('utf-8-sig' if number == 1 else 'utf-8')
            except UnicodeDecodeError:
                yield number, _fail(number, 'not_utf8')
                continue
            if not text.strip():
                continue
            try:
                yield number, json.loads(text)
            except json.JSONDecodeError as e:
                yield number, _fail(number, 'not_json', detail=e.msg, column=e.colno)


@dataclass(frozen=True)
class ReadPairs:
    """The pairs read, and the lines left out with the reason for each (an AlignmentError with code and line)."""

    pairs: list[Pair]
    problems: list[AlignmentError]


def parse_pairs(rows: Iterable[tuple[int, Any]], source: str) -> ReadPairs:
    """Every row as a Pair, bad rows left out and listed; refused when no pair is left, naming the first problems."""
    pairs, problems = [], []
    for number, obj in rows:
        if isinstance(obj, AlignmentError):
            problems.append(obj)
            continue
        try:
            pairs.append(parse_pair(obj, number))
        except AlignmentError as e:
            problems.append(e)
    if not pairs and not problems:
        raise AlignmentError('dpo.empty_dataset', source=source)
    if not pairs:
        first = [at_line(e) for e in problems[:MAX_REPORTED]]
        raise AlignmentError('dpo.no_pairs', source=source, problems=len(problems), first=first)
    return ReadPairs(pairs, problems)


def read_pairs(path: str | Path) -> ReadPairs:
    """A JSONL file of pairs in TRL's shape, each line checked (see parse_pair); bad lines are left out and listed."""
    p = Path(path)
    if not p.is_file():
        raise AlignmentError('dpo.no_file', path=p)
    return parse_pairs(_lines(p), str(p))


# --- splits and the dataset folder ------------------------------------------------------------------------------


def _prompt_key(pair: Pair) -> str:
    return json.dumps(pair.prompt, ensure_ascii=False)


def _unit(key: str) -> float:
    """A stable number in [0, 1) for a prompt: the same prompt always lands in the same split."""
    return int(hashlib.sha256(key.encode()).hexdigest()[:12], 16) / 16**12


def split_pairs(pairs: list[Pair], val_fraction: float) -> dict[str, list[Pair]]:
    """Train and val by prompt, never by pair: two answers to one prompt never sit on both sides of the split."""
    keys = sorted({_prompt_key(p) for p in pairs}, key=_unit)
    val_keys = {k for k in keys if _unit(k) < val_fraction}
    if not val_keys and len(keys) > 1:
        val_keys = {keys[0]}  # a small dataset still gets one held-out prompt
    if len(val_keys) == len(keys) and len(keys) > 1:
        val_keys.discard(keys[-1])
    out: dict[str, list[Pair]] = {'train': [], 'val': []}
    for p in pairs:
        out['val' if _prompt_key(p) in val_keys else 'train'].append(p)
    return out


def write_preferences(folder: Path, splits: Mapping[str, list[Pair]], source: Mapping[str, Any]) -> dict[str, Any]:
    """Write the dataset folder atomically, file by file, preferences.json last; return what it says."""
    folder.mkdir(parents=True, exist_ok=True)
    for split in SPLITS:
        lines = ''.join(json.dumps(p.to_json(), ensure_ascii=False) + '\n' for p in splits.get(split, []))
        atomic_write_text(folder / f'{split}.jsonl', lines)
    info = {
        'format': FORMAT,
        'version': VERSION,
        'source': dict(source),
        'pairs': {s: len(splits.get(s, [])) for s in SPLITS},
        'prompts': {s: len({_prompt_key(p) for p in splits.get(s, [])}) for s in SPLITS},
        'created': time.time(),
    }
    atomic_write_text(folder / INFO_FILE, json.dumps(info, indent=2, ensure_ascii=False))
    return info


def is_preferences(folder: Path) -> bool:
    """Whether a dataset folder holds preference pairs."""
    return (folder / INFO_FILE).is_file()


def load_info(folder: Path) -> dict[str, Any]:
    """preferences.json, checked: a folder without it is not a preference dataset, a newer version is refused."""
    path = folder / INFO_FILE
    try:
        info = json.loads(path.read_text(encoding='utf-8'))
    except FileNotFoundError:
        raise AlignmentError('dpo.not_preferences', key='dataset', dataset=folder.name, path=path) from None
    except (OSError, ValueError) as e:
        raise AlignmentError('dpo.unreadable_info', path=path, reason=e.__class__.__name__) from None
    if not isinstance(info, dict) or info.get('format') != FORMAT or not isinstance(info.get('version'), int):
        raise AlignmentError('dpo.bad_info', path=path)
    if info['version'] > VERSION:
        raise AlignmentError('dpo.newer_format', path=path, version=info['version'], supported=VERSION)
    return info


def load_split(folder: Path, split: str) -> list[Pair]:
    """The pairs of one split as written by write_preferences (an absent or empty split is an empty list)."""
    load_info(folder)
    path = folder / f'{split}.jsonl'
    if not path.is_file() or path.stat().st_size == 0:
        return []
    stored = list(_lines(path))
    read = parse_pairs(stored, str(path))
    if read.problems:  # the lab wrote this file: a bad line means it was damaged, not a choice to skip
        raise AlignmentError('dpo.damaged', path=path, problem=at_line(read.problems[0]))
    pairs = read.pairs
    # keep the line each pair had in the file the learner gave, which messages about it should name
    return [replace(p, line=obj.get('line', p.line)) for p, (_, obj) in zip(pairs, stored, strict=True)]


def with_vocabulary(folder: Path, tokenizer: ChatTokenizer) -> Path:
    """The folder a DPO checkpoint names as its dataset: `<pairs>.<kind>-<digest>/` beside the pairs, holding the
    model's chat vocabulary (`save_vocabulary`: chat.json, and meta.pkl for a char one) and VOCABULARY_FILE, which
    names the pairs. nanoGPT's sample.py decodes a checkpoint with data/<its dataset>/meta.pkl, and pairs stay text
    that fits any model, so the vocabulary lives beside them (one folder per model vocabulary, made once)."""
    target = folder.parent / vocabulary_folder_name(
        folder.name, tokenizer, json.dumps(tokenizer.to_json(), sort_keys=True)
    )
    if (target / VOCABULARY_FILE).is_file():
        return target

    def fill(tmp: Path) -> None:
        save_vocabulary(tmp, tokenizer)
        doc = {'format': VOCABULARY_FORMAT, 'version': VERSION, 'preferences': folder.name}
        atomic_write_text(tmp / VOCABULARY_FILE, json.dumps(doc, indent=2) + '\n')

    return write_folder(target, fill, VOCABULARY_FILE)


def pairs_folder(folder: Path) -> Path:
    """The preference dataset `folder` is, or names when it is a DPO checkpoint's vocabulary folder (its sibling)."""
    path = folder / VOCABULARY_FILE
    if not path.is_file():
        return folder
    try:
        name = json.loads(path.read_text(encoding='utf-8'))['preferences']
    except (OSError, ValueError, KeyError, TypeError):
        raise AlignmentError('dpo.bad_info', path=path) from None
    try:
        return folder.parent / check_name(name)  # a sibling's name, never a path
    except LabError:
        raise AlignmentError('dpo.bad_info', path=path) from None


# --- preparing a dataset --------------------------------------------------------------------------------------------

# named Hugging Face preference datasets the lab knows: their split and licence (shown before use)
NAMED_DATASETS = {
    'HuggingFaceH4/ultrafeedback_binarized': {'split': 'train_prefs', 'licence': 'MIT'},
}


def _report(read: ReadPairs, where: str, emit: Emit) -> None:
    """Say how many pairs were kept, and which lines were left out and why (the first ones by number)."""
    for e in read.problems[:MAX_LISTED]:
        emit_log(emit, 'log.dpo.left_out', 'warning', problem=at_line(e))
    if len(read.problems) > MAX_LISTED:
        emit_log(emit, 'log.dpo.more_left_out', 'warning', count=len(read.problems) - MAX_LISTED)
    emit_log(emit, 'log.dpo.pairs_read', source=where, kept=len(read.pairs), left_out=len(read.problems))


def _source(kind: str, read: ReadPairs, **extra: Any) -> dict[str, Any]:
    problems = [at_line(e) for e in read.problems[:MAX_LISTED]]
    return {'kind': kind, **extra, 'kept': len(read.pairs), 'left_out': len(read.problems), 'problems': problems}


def prepare_file(path: str | Path, folder: Path, val_fraction: float, emit: Emit = null_emit) -> dict[str, Any]:
    """`prepare preferences --input FILE`: read, report, split by prompt, write; return preferences.json."""
    read = read_pairs(path)
    _report(read, str(path), emit)
    source = _source('file', read, path=str(Path(path).resolve()))
    return write_preferences(folder, split_pairs(read.pairs, val_fraction), source)


def prepare_hf(name: str, folder: Path, val_fraction: float, max_rows: int, emit: Emit = null_emit) -> dict[str, Any]:
    """`prepare preferences --hf NAME`: rows through `datasets` (online; offline is said plainly), licence shown."""
    from nanogpt_lab.alignment.conversations import hf_rows

    known = NAMED_DATASETS.get(name, {})
    rows, licence = hf_rows(name, known.get('split', 'train'), max_rows)
    licence = licence or known.get('licence') or 'unknown: read the dataset card before you use it'
    emit_log(emit, 'log.alignment_engine.hf_licence', dataset=name, licence=licence)
    read = parse_pairs(enumerate(rows, start=1), name)
    _report(read, name, emit)
    source = _source('huggingface', read, dataset=name, licence=licence)
    return write_preferences(folder, split_pairs(read.pairs, val_fraction), source)


def append_pair(folder: Path, pair: Pair, val_fraction: float = 0.1) -> dict[str, Any]:
    """Add one pair (a learner's pick in the chat) to the dataset in `folder`, made on the first pick; return
    preferences.json, whose `pairs` counts what has been collected. The split is by prompt, as for a file."""
    pairs = [p for split in SPLITS for p in load_split(folder, split)] if is_preferences(folder) else []
    if not is_preferences(folder) and folder.is_dir() and any(folder.iterdir()):
        raise AlignmentError('dpo.name_taken', key='name', path=folder)
    return write_preferences(folder, split_pairs([*pairs, pair], val_fraction), {'kind': 'picks'})
