"""Training killed with SIGKILL 20 times in a row, half of the kills inside a checkpoint write.

After every kill: the last complete checkpoint loads (`load_checkpoint`, weights_only) and builds the model, it
never goes back in time, the events file reads cleanly up to the kill, and the next run resumes from exactly that
checkpoint. At the end a plain `nanogpt-lab train --init_from=resume` finishes the run.

How a kill lands inside a checkpoint write without touching the product: `eval_interval=1` makes every iteration
save, and the test watches the run folder for the atomic writer's temp file (`.ckpt.pt.*.tmp`) and kills the
moment one appears. A temp file still there after the kill is the proof that the process died mid-write.
"""

from __future__ import annotations

import json
import os
import random
import signal
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import pytest

from nanogpt_lab.model.checkpoint import load_checkpoint, model_from_checkpoint

KILLS = 20
SEED = int(os.environ.get('NANOGPT_LAB_KILL_SEED', '20261128'))  # the random kill moments, reproducible


class ForkServer:
    """tests/reliability/forkserver.py in a subprocess: fork a warm `nanogpt-lab train`, wait for it."""

    def __init__(self, env: dict[str, str]):
        script = Path(__file__).with_name('forkserver.py')
        self.proc = subprocess.Popen([sys.executable, str(script)], stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                                     env=env, text=True)  # fmt: skip

    def _ask(self, request: dict) -> dict:
        self.proc.stdin.write(json.dumps(request) + '\n')
        self.proc.stdin.flush()
        line = self.proc.stdout.readline()
        assert line, 'the fork server died'
        return json.loads(line)

    def run(self, argv: list[str], log: Path) -> int:
        return self._ask({'run': argv, 'log': str(log)})['pid']

    def wait(self, pid: int) -> int:
        return self._ask({'wait': pid})['status']

    def close(self) -> None:
        self.proc.stdin.close()
        self.proc.wait(30)


def _temps(run: Path) -> set[str]:
    return {p.name for p in run.glob('.ckpt.pt.*.tmp')}


def _check_events(path: Path) -> list[dict]:
    """Every complete line parses; only the very last may be torn; seqs run 1, 2, 3, ... without a gap."""
    raw = path.read_bytes().split(b'\n')
    complete, tail = raw[:-1], raw[-1]
    for i, line in enumerate(complete):
        try:
            json.loads(line)
        except ValueError:
            # a line a kill tore and the next run ended with a newline: skipped by every reader, never glued
            assert line.count(b'{"seq"') <= 1, f'line {i + 1} holds two events glued together: {line!r}'
    if tail:
        assert not tail.endswith(b'\n')
    from nanogpt_lab.events import read_events

    events = list(read_events(path))
    assert [e['seq'] for e in events] == list(range(1, len(events) + 1))
    return events


def _check_after_kill(run: Path, events: list[dict], previous_iter: int) -> int:
    """The last complete checkpoint loads, builds the model, is not older than before, and agrees with events."""
    ckpt = load_checkpoint(run)
    model_from_checkpoint(ckpt)  # every tensor present with the right shape
    k = ckpt['iter_num']
    assert k >= previous_iter, f'the checkpoint went back from {previous_iter} to {k}'
    saved = [e['iter'] for e in events if e['type'] == 'eval' and e.get('saved')]
    # the save comes right before its eval event: a kill between the two leaves the checkpoint one ahead
    assert saved and k in (saved[-1], saved[-1] + 1), (k, saved[-5:])
    return k


def _kill_moment(run: Path, mode: str, rng: random.Random, before: set[str], started: float) -> str:
    """Wait for the moment to kill: a checkpoint temp file appearing, or a random instant after the start."""
    if mode == 'write':  # the n-th checkpoint write of this run, n from 1 to 5: each save has its own temp name
        nth, seen, end = rng.randint(1, 5), set(before), time.monotonic() + 180
        for _ in range(nth):
            while not (new := _temps(run) - seen):
                assert time.monotonic() < end, 'no checkpoint write began within 180 s'
                time.sleep(0.0005)
            seen |= new
        return f'checkpoint write #{nth}'
    delay = rng.uniform(0.05, 2.5)
    time.sleep(max(0.0, started + delay - time.monotonic()))
    return f'random {delay:.2f} s'


@pytest.mark.killloop
def test_twenty_sigkills_lose_no_checkpoint(tmp_path: Path, char_data_dir: Path, helpers: Any, capsys) -> None:
    run, home = tmp_path / 'run', tmp_path / 'home'
    train = ['train', *helpers.flags({**helpers.TINY, 'data_dir': char_data_dir, 'out_dir': run, 'eval_interval': 1,
                                      'max_iters': 1_000_000})]  # fmt: skip
    rng = random.Random(SEED)
    server = ForkServer(helpers.lab_env(home))
    k, during_write, aimed, resumed, lost = 0, 0, 0, 0, []
    try:
        for i in range(KILLS):
            mode = 'write' if i % 2 == 0 else 'random'
            before, seq_before = _temps(run), len(helpers.events_of(run / 'events.jsonl'))
            started = time.monotonic()
            pid = server.run(train + (['--init_from=resume'] if i else []), tmp_path / f'cycle-{i}.log')
            if i == 0:  # resuming needs a first checkpoint
                helpers.wait_for(lambda: (run / 'ckpt.pt').exists(), 'the first checkpoint', interval=0.001)
            moment = _kill_moment(run, mode, rng, before, started)
            os.kill(pid, signal.SIGKILL)
            status = server.wait(pid)
            log = (tmp_path / f'cycle-{i}.log').read_text(errors='replace')
            assert status == -signal.SIGKILL, f'cycle {i}: the run ended by itself ({status}):\n{log[-3000:]}'
            if _temps(run) - before:  # the temp file outlived its writer: the kill landed mid-write
                during_write += 1
                aimed += mode == 'write'
            events = _check_events(run / 'events.jsonl')
            new = [e for e in events[seq_before:] if e['type'] == 'train']
            if i and new:
                assert new[0]['iter'] == k, f'cycle {i}: resumed at {new[0]["iter"]}, checkpoint was at {k}'
                resumed += 1
            k = _check_after_kill(run, events, k)
            trained = [e['iter'] for e in events if e['type'] == 'train']
            lost.append(max(0, (trained[-1] + 1 if trained else 0) - k))
            print(f'kill {i + 1:2d} ({moment}): checkpoint at iteration {k}, {len(events)} events')
    finally:
        server.close()
    # the kills really landed where they were aimed, and the runs in between really resumed
    assert aimed >= KILLS // 4, f'only {aimed} of {KILLS // 2} kills aimed at a checkpoint write landed inside one'
    assert resumed >= KILLS // 3, f'only {resumed} runs got far enough to show they resumed'
    assert max(lost) <= 1  # eval_interval=1: a kill loses at most the iteration in flight
    # a plain `nanogpt-lab train` (a fresh process, the real console script) finishes the run
    final = subprocess.run([str(helpers.LAB), *train[:-1], f'--max_iters={k + 3}', '--init_from=resume'],
                           env=helpers.lab_env(home), capture_output=True, text=True, timeout=600)  # fmt: skip
    assert final.returncode == 0, final.stderr[-3000:]
    assert load_checkpoint(run)['iter_num'] == k + 3
    events = _check_events(run / 'events.jsonl')
    assert events[-1]['type'] == 'end' and events[-1]['status'] == 'succeeded'
    assert json.loads((run / 'job.json').read_text())['status'] == 'succeeded'
    with capsys.disabled():
        print(
            f'\n[killloop] {KILLS} SIGKILLs survived, {during_write} inside a checkpoint write ({aimed} of the '
            f'{KILLS // 2} aimed there), {resumed} resumes '
            f'seen, at most {max(lost)} iteration lost per kill, 0 checkpoints lost (seed {SEED})'
        )


def test_a_torn_event_line_does_not_swallow_the_next_run(tmp_path: Path, char_data_dir: Path, helpers: Any,
                                                         own_signals: None) -> None:  # fmt: skip
    """A kill in the middle of writing a long event line leaves it without its newline; the resumed run's first
    event must start a line of its own, not be glued to the fragment and lost."""
    from nanogpt_lab.cli import main

    run = tmp_path / 'run'
    base = ['train', *helpers.flags({**helpers.TINY, 'data_dir': char_data_dir, 'out_dir': run, 'eval_interval': 2})]
    assert main([*base, '--max_iters=2']) == 0
    with open(run / 'events.jsonl', 'a') as f:
        f.write('{"seq": 999, "t": 1.0, "type": "train", "iter": 2, "lo')  # what SIGKILL mid-write leaves
    assert main([*base, '--max_iters=4', '--init_from=resume']) == 0
    events = _check_events(run / 'events.jsonl')
    starts = [e for e in events if e['type'] == 'start']
    assert len(starts) == 2, 'the resumed run lost its start event'
    assert events[-1]['type'] == 'end' and events[-1]['summary']['iter_num'] == 4
