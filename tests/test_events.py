"""events.py: numbered, append-only event files that survive a kill, and the one schema every writer is held to."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from nanogpt_lab.events import SCHEMA, EventLog, EventSchemaError, check_event, last_seq, read_events
from nanogpt_lab.simulation import assets


def test_events_are_numbered_stamped_and_continue_across_writers(tmp_path: Path) -> None:
    path = tmp_path / 'events.jsonl'
    seen: list[dict] = []
    with EventLog(path, [seen.append]) as emit:
        emit('start', kind='train', run_id='r', pid=1, config={})
        emit('train', iter=0, loss=float('nan'))  # JSON has no NaN: written as null
    with EventLog(path) as emit:
        emit('end', status='succeeded', error=None)
    events = list(read_events(path))
    assert [e['seq'] for e in events] == [1, 2, 3] and seen == events[:2]
    assert events[1]['loss'] is None and all(isinstance(e['t'], float) for e in events)
    assert [e['seq'] for e in read_events(path, after=2)] == [3] and last_seq(path) == 3


def test_a_torn_last_line_is_skipped_and_ended(tmp_path: Path) -> None:
    path = tmp_path / 'events.jsonl'
    path.write_text(json.dumps({'seq': 1, 't': 0, 'type': 'log', 'level': 'info', 'message': 'x'}) + '\n{"seq": 2, "t')
    assert [e['seq'] for e in read_events(path)] == [1]  # the fragment a kill left is not an event
    with EventLog(path) as emit:
        emit('log', level='info', message='after the crash')
    assert [e['seq'] for e in read_events(path)] == [1, 2]


@pytest.mark.parametrize(
    ('type_', 'fields', 'kind', 'says'),
    [
        ('train', {'iter': 1, 'loss': 2.0, 'los': 2.0}, 'train', 'unknown los'),
        ('train', {'iter': 1}, 'train', 'missing loss'),
        ('eval', {'iter': 1, 'train_loss': 1.0, 'val_loss': 1.0, 'val_reward_margin': 0.1}, 'train', 'unknown'),
        ('end', {'status': 'done', 'error': None}, None, "end status 'done'"),
        ('log', {'level': 'debug', 'message': 'x'}, None, "log level 'debug'"),
        ('metric', {'value': 1}, None, "unknown event type 'metric'"),
    ],
)
def test_the_schema_refuses_what_it_does_not_describe(type_: str, fields: dict, kind: str | None, says: str) -> None:
    with pytest.raises(EventSchemaError, match=says):
        check_event(type_, fields, kind)


def test_a_kind_adds_its_own_fields_explicitly(tmp_path: Path) -> None:
    dpo = {'iter': 3, 'loss': 0.6, 'reward_margin': 0.4, 'preference_accuracy': 0.75, 'chosen_logp_drift': -0.1}
    check_event('train', dpo, 'dpo')
    check_event('eval', {'iter': 3, 'train_loss': 0.6, 'val_loss': 0.7, 'val_preference_accuracy': 0.7}, 'dpo')
    with pytest.raises(EventSchemaError, match='reward_margin'):
        check_event('train', dpo, 'finetune')  # not a field of a plain fine-tune
    with EventLog(tmp_path / 'events.jsonl') as emit:  # the log learns the kind from its start event
        emit('start', kind='dpo', run_id='r', pid=1, config={})
        emit('train', **dpo)
        with pytest.raises(EventSchemaError):
            emit('train', iter=4, loss=0.5, reward=1.0)
    assert [e['type'] for e in read_events(tmp_path / 'events.jsonl')] == ['start', 'train']  # nothing half-written


def test_every_recorded_asset_replays_within_the_schema() -> None:
    names = [a.name for a in assets.list_assets(kind='run')]
    assert names
    for name in names:
        for event in assets.load_events(name):
            fields = {k: v for k, v in event.items() if k not in ('seq', 't', 'type')}
            check_event(event['type'], fields, 'simulate')
    assert set(SCHEMA) == {'start', 'progress', 'train', 'eval', 'sample', 'log', 'end'}
