"""One event schema for real and simulated runs (DESIGN §4): numbered JSON lines, appended, fanned out to listeners.

The engine reports through an `Emit` callback, `emit('train', iter=10, loss=2.3, ...)`, and knows nothing of
files, jobs or servers; `EventLog` is the usual callback: it numbers events, stamps them, appends them to
`events.jsonl` and passes them on (to a progress bar, a job's stdout, a test).
"""

from __future__ import annotations

import json
import math
import threading
import time
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any, BinaryIO, Protocol

from nanogpt_lab.errors import Coded
from nanogpt_lab.fileio import strict_json
from nanogpt_lab.messages import plain, render

END_STATUSES = ('succeeded', 'failed', 'cancelled')
LOG_LEVELS = ('info', 'warning', 'error')


@dataclass(frozen=True)
class EventFields:
    """The fields one event type must carry and those it may carry (besides seq, t, type and `simulated`)."""

    required: frozenset[str]
    optional: frozenset[str] = frozenset()


def _fields(required: str, optional: str = '') -> EventFields:
    return EventFields(frozenset(required.split()), frozenset(optional.split()))


# DESIGN §4, made precise in docs/architecture.md: what every job of every kind may write.
SCHEMA: dict[str, EventFields] = {
    'start': _fields('kind run_id pid config', 'provenance'),
    'progress': _fields('done total unit', 'label label_code label_params phase'),
    'train': _fields(
        'iter loss',
        'max_iters lr dt_ms tokens_per_s mfu mem_bytes tokens grad_norm bpc '
        'mfu_a100 includes_eval',  # nanoGPT's own train.py (jobs.nanogpt_checkout): its MFU is against an A100
    ),
    'eval': _fields('iter train_loss val_loss', 'best_val_loss tokens saved train_bpc val_bpc'),
    'sample': _fields('text', 'iter index'),
    'log': _fields('level message', 'code params traceback path'),
    'end': _fields('status error', 'summary error_code error_params'),
}
_DPO_TERMS = 'reward_margin preference_accuracy chosen_reward rejected_reward chosen_logp_drift rejected_logp_drift'
# Fields only some kinds of run write, per event type: a new kind with new numbers adds its entry here.
KIND_FIELDS: dict[str, dict[str, frozenset[str]]] = {
    'dpo': {
        'train': frozenset(_DPO_TERMS.split()),
        'eval': frozenset(f'{split}_{term}' for split in ('train', 'val') for term in _DPO_TERMS.split()),
    },
}
# a replay re-emits a recorded run of any kind
KIND_FIELDS['simulate'] = {
    type_: frozenset().union(*(extra.get(type_, frozenset()) for extra in KIND_FIELDS.values())) for type_ in SCHEMA
}


class EventSchemaError(ValueError):
    """An emitter wrote an event the schema does not describe: a bug in the lab, named so it is quick to fix."""


def check_event(type: str, fields: dict[str, Any], kind: str | None = None) -> None:
    """Raise EventSchemaError unless `fields` are what SCHEMA (and KIND_FIELDS for `kind`) allow for `type`."""
    spec = SCHEMA.get(type)
    if spec is None:
        raise EventSchemaError(f"unknown event type '{type}' (known: {', '.join(SCHEMA)})")
    names = set(fields) - {'simulated'}
    missing = spec.required - names
    extra = names - spec.required - spec.optional - KIND_FIELDS.get(kind or '', {}).get(type, frozenset())
    problems = [
        f'{what} {", ".join(sorted(names))}' for what, names in (('missing', missing), ('unknown', extra)) if names
    ]
    if problems:
        raise EventSchemaError(f"'{type}' event of a {kind or 'plain'} run: {'; '.join(problems)} (events.SCHEMA)")
    if type == 'end' and fields['status'] not in END_STATUSES:
        raise EventSchemaError(f"end status '{fields['status']}' is not one of {', '.join(END_STATUSES)}")
    if type == 'log' and fields['level'] not in LOG_LEVELS:
        raise EventSchemaError(f"log level '{fields['level']}' is not one of {', '.join(LOG_LEVELS)}")


class Cancelled(Coded):
    """Raised by an engine loop that stopped because the user asked (after saving what it must); ends `cancelled`.

    Like an error it carries a catalog code and parameters: `Cancelled('job.cancelled')`.
    """


class Emit(Protocol):
    """What engine loops call to report: an event type and its fields."""

    def __call__(self, type: str, **fields: Any) -> Any: ...


def null_emit(type: str, **fields: Any) -> None:
    """An Emit that drops everything, for library callers who do not want events."""


def log_fields(code: str, level: str = 'info', **params: Any) -> dict[str, Any]:
    """A `log` event by catalog code: pages and the API word it from `code` + `params`; `message` is English."""
    params = plain(params)
    return {'level': level, 'code': code, 'params': params, 'message': render(code, params)}


def emit_log(emit: Emit, code: str, level: str = 'info', **params: Any) -> None:
    """Emit a `log` event by catalog code (see `log_fields`)."""
    emit('log', **log_fields(code, level, **params))


def _clean(value: Any) -> Any:
    """JSON has no NaN or infinity: write them as null so every line stays parseable by any reader."""
    if isinstance(value, float) and not math.isfinite(value):
        return None
    if isinstance(value, dict):
        return {k: _clean(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_clean(v) for v in value]
    return value


class EventLog:
    """Append-only `events.jsonl` writer: numbers events (continuing an existing file), stamps time, notifies.

    Every event a job, the CLI, a replay or the recorder writes passes `check_event` here, the one place the
    schema is enforced; `kind` (the run's job kind, or the kind its start event names) picks its extra fields.
    """

    def __init__(
        self,
        path: str | Path | None = None,
        listeners: Iterable[Callable[[dict], None]] = (),
        kind: str | None = None,
    ):
        self.path = Path(path) if path else None
        self.kind = kind
        self.listeners = list(listeners)
        self._lock = threading.Lock()
        self._file = None
        if self.path:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            self._file = open(self.path, 'a', encoding='utf-8')  # noqa: SIM115 - kept open for the run
            if _torn(self.path):
                # a kill mid-line left a fragment: end it, or the next event would be glued to it and lost
                self._file.write('\n')
                self._file.flush()
        self._seq = last_seq(self.path) if self.path else 0

    def __call__(self, type: str, **fields: Any) -> dict:
        """Record one event and return it as written."""
        if type == 'start' and self.kind is None:
            self.kind = fields.get('kind')
        check_event(type, fields, self.kind)
        with self._lock:
            self._seq += 1
            event = {'seq': self._seq, 't': round(time.time(), 3), 'type': type, **_clean(fields)}
            if self._file:
                # one write per line and a flush: a killed process leaves every finished line readable
                self._file.write(json.dumps(event, ensure_ascii=False) + '\n')
                self._file.flush()
        for listener in self.listeners:
            listener(event)
        return event

    def close(self) -> None:
        """Close the file; further events still reach listeners."""
        with self._lock:
            if self._file:
                self._file.close()
                self._file = None

    def __enter__(self) -> EventLog:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def read_events(path: str | Path, after: int = 0) -> Iterator[dict]:
    """Yield the complete events in `path` with seq > `after`, skipping a torn last line a crash may leave.

    Starts near the first wanted event (`seek_after`), so reading the tail of a long run costs the tail only."""
    p = Path(path)
    if not p.exists():
        return
    with open(p, 'rb') as f:
        f.seek(seek_after(f, after))
        for line in f:
            if not line.endswith(b'\n'):
                break  # a line still being written (or cut by a kill): not an event yet
            event = parse_event(line)
            if event is not None and event['seq'] > after:
                yield event


SEEK_BLOCK = 1 << 16


def seek_after(f: BinaryIO, after: int) -> int:
    """An offset in an events file (seqs only grow) at a line start before which every event has seq <= `after`:
    found by reading backwards from the end a block at a time, so a reconnecting stream that wants the last few
    events of a 100,000-event run reads kilobytes, not the whole file."""
    end = f.seek(0, 2)
    if after <= 0:
        return 0
    pos = end
    while pos > 0:
        start = max(0, pos - SEEK_BLOCK)
        f.seek(start)
        block = f.read(pos - start)
        first = 0 if start == 0 else block.find(b'\n') + 1  # the first line that starts inside this block
        if first or start == 0:
            for line in block[first:].split(b'\n'):
                event = parse_event(line)
                if event is not None:
                    if event['seq'] <= after:
                        return start + first
                    break
                first += len(line) + 1
        pos = start
    return 0


def parse_event(line: str | bytes) -> dict | None:
    """One events.jsonl line as an event, or None when it is not one: a fragment a kill left, a line edited by
    hand, numbers no JSON client can read. Every reader skips such lines, so one bad line never breaks a run."""
    try:
        event = strict_json(line)
    except ValueError:
        return None
    if isinstance(event, dict) and type(event.get('seq')) is int and isinstance(event.get('type'), str):
        return event
    return None


def _torn(path: Path) -> bool:
    """Whether the file's last line lacks its newline (readers skip such a fragment as not an event)."""
    with open(path, 'rb') as f:
        if f.seek(0, 2) == 0:
            return False
        f.seek(-1, 2)
        return f.read(1) != b'\n'


def last_seq(path: Path) -> int:
    """The highest seq already in `path` (0 for a new file), so a resumed run keeps numbering."""
    seq = 0
    for event in read_events(path):
        seq = max(seq, int(event.get('seq', 0)))
    return seq
