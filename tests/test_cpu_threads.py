"""The CPU threading a computing process chooses at start: free cores, the user's settings first, no import effect."""

from __future__ import annotations

import json
import os
import subprocess
import sys

from nanogpt_lab import cpu_threads
from nanogpt_lab.cpu_threads import decide
from nanogpt_lab.messages import render


def test_an_idle_machine_keeps_every_core_and_libgomps_default_waiting() -> None:
    choice = decide(cores=2, free=1.9, environ={})
    assert (choice.threads, choice.wait_policy) == (2, 'default')
    assert (
        choice.reason
        == "CPU: 2 thread(s), 1.9 of 2 cores free at start; threads spin briefly while they wait (OpenMP's default)"
    )


def test_a_busy_core_costs_a_thread_and_shared_cores_wait_passively() -> None:
    assert decide(cores=2, free=1.0, environ={}).threads == 1
    assert decide(cores=2, free=0.0, environ={}).threads == 1  # never zero
    shared = decide(cores=16, free=11.7, environ={})
    assert (shared.threads, shared.wait_policy) == (12, 'PASSIVE')


def test_what_the_user_set_wins() -> None:
    env = decide(cores=2, free=0.0, environ={'OMP_NUM_THREADS': '2', 'OMP_WAIT_POLICY': 'active'})
    assert (env.threads, env.wait_policy) == (2, 'ACTIVE')
    assert (
        env.reason
        == 'CPU: 2 thread(s), OMP_NUM_THREADS=2 from the environment; OMP_WAIT_POLICY=active from the environment'
    )
    flag = decide(cores=2, free=0.2, environ={}, threads=2)
    assert (flag.threads, flag.wait_policy) == (2, 'PASSIVE') and '--threads=2' in flag.reason
    assert decide(cores=4, free=None, environ={}).threads == 4  # unmeasurable: torch's default


def test_free_cores_is_a_share_of_this_process_cpus() -> None:
    free = cpu_threads.free_cores(0.05)
    assert free is not None and 0.0 <= free <= len(os.sched_getaffinity(0))


def _child(code: str, **env: str) -> dict:
    clean = {k: v for k, v in os.environ.items() if not k.startswith('OMP_')}
    out = subprocess.run(
        [sys.executable, '-c', code], env={**clean, **env}, capture_output=True, text=True, check=True, timeout=120
    )
    return json.loads(out.stdout.strip().splitlines()[-1])


def test_importing_the_lab_leaves_the_environment_alone_and_torch_unloaded() -> None:
    code = (
        'import json, os, sys; import nanogpt_lab.training, nanogpt_lab.cli, nanogpt_lab.jobs.worker, '
        'nanogpt_lab.jobs.specs; '
        'print(json.dumps({**{k: v for k, v in os.environ.items() if k.startswith("OMP_")}, '
        '"torch": "torch" in sys.modules}))'
    )
    assert _child(code) == {'torch': False}  # so the worker and the CLI can still choose before torch loads


def test_the_choice_reads_in_chinese() -> None:
    """(configure() before torch, in a real process, with and without the user's settings: the CLI test below.)"""
    assert render('log.cpu_threads.chosen', decide(2, 1.0, {}).params, 'zh-CN').startswith('CPU：1 个线程，启动时')


def test_a_process_that_loaded_torch_already_is_left_alone(monkeypatch) -> None:
    import torch

    monkeypatch.delenv('OMP_NUM_THREADS', raising=False)
    before = torch.get_num_threads()
    assert cpu_threads.configure() is None and torch.get_num_threads() == before
    assert 'OMP_NUM_THREADS' not in os.environ


def test_nanogpt_lab_train_chooses_before_torch_loads(char_data_dir, tmp_path) -> None:
    """The CLI as a user runs it (configure() before torch loads): the run's log and config.json say what was chosen,
    torch got that many threads, and what the user set wins, their wait policy included."""
    flags = [
        '--dataset=shakespeare_char',
        '--device=cpu',
        '--compile=False',
        '--n_layer=1',
        '--n_head=1',
        '--n_embd=16',
        '--block_size=16',
    ]
    flags += ['--batch_size=2', '--max_iters=2', '--eval_interval=2', '--eval_iters=1', f'--data_dir={char_data_dir}']
    mine = ({'OMP_NUM_THREADS': '1', 'OMP_WAIT_POLICY': 'ACTIVE'}, '1 thread(s), OMP_NUM_THREADS=1 from the '
            'environment; OMP_WAIT_POLICY=ACTIVE from the environment')  # fmt: skip
    for env, expected in (({}, 'cores free at start'), mine):
        run = tmp_path / f'run{len(env)}'
        code = 'import sys; from nanogpt_lab.cli import main; sys.exit(main(sys.argv[1:]))'
        clean = {k: v for k, v in os.environ.items() if not k.startswith('OMP_')}
        subprocess.run(
            [sys.executable, '-c', code, 'train', *flags, f'--out_dir={run}'],
            env={**clean, **env},
            check=True,
            capture_output=True,
            timeout=300,
        )
        resolved = json.loads((run / 'config.json').read_text())['resolved']
        assert expected in resolved['cpu_threads']
        assert resolved['cpu_threads'].startswith(f'CPU: {resolved["threads"]} thread(s), ')
        assert resolved['cpu_kernels'].startswith('MKL: ')  # cpu_kernels chose too (tests/test_cpu_kernels.py)
        logged = [json.loads(line) for line in (run / 'events.jsonl').read_text().splitlines()]
        assert any(e.get('code') == 'log.cpu_threads.chosen' for e in logged)
