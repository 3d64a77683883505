"""cli.py: argparse with nanoGPT's `config/file.py --key=value` arguments, --help on every command (which starts
nothing), --home anywhere, one-line errors, and a subcommand as one function plus one registration line."""

from __future__ import annotations

import argparse
import os
from pathlib import Path

import pytest

from nanogpt_lab import cli


@pytest.fixture
def recorded(monkeypatch: pytest.MonkeyPatch):
    """A throwaway `probe` command, registered the way every command is, that records what it was handed."""
    calls: list[tuple[argparse.Namespace, list[str], str | None]] = []
    monkeypatch.setattr(cli, 'COMMANDS', dict(cli.COMMANDS))

    @cli.command('probe', 'record the arguments')
    def _probe(opts: argparse.Namespace, args: list[str]) -> int:
        calls.append((opts, args, os.environ.get('NANOGPT_LAB_HOME')))
        return 0

    return calls


@pytest.mark.parametrize('name', list(cli.COMMANDS))
def test_every_command_has_help_that_exits_zero(name: str, capsys: pytest.CaptureFixture[str]) -> None:
    assert cli.main([name, '--help']) == 0
    out = capsys.readouterr().out
    assert out.startswith(f'usage: nanogpt-lab {name}') and cli.COMMANDS[name].summary in out.replace('\n', ' ')
    assert cli.main(['help', name]) == 0 and capsys.readouterr().out == out


def test_bench_help_lists_every_suite(capsys: pytest.CaptureFixture[str]) -> None:
    from nanogpt_lab.tools.bench import SUITES

    assert cli.main(['bench', '--help']) == 0
    usage = capsys.readouterr().out.split('\n\n')[0]
    assert f'{"|".join(SUITES)} [--key=value ...]' in usage and 'dpo' in SUITES  # the table, never a copy of it


def test_serve_help_starts_nothing(monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]) -> None:
    import nanogpt_lab.ui.app

    def started(**kwargs: object) -> None:
        raise AssertionError('serve -h started the lab')

    monkeypatch.setattr(nanogpt_lab.ui.app, 'serve', started)
    assert cli.main(['serve', '-h']) == 0
    assert '--no-browser' in capsys.readouterr().out


def test_the_top_level_help_lists_every_command(capsys: pytest.CaptureFixture[str]) -> None:
    assert cli.main(['--help']) == 0
    out = capsys.readouterr().out
    assert all(name in out for name in cli.COMMANDS) and '--home' in out
    assert cli.main(['-V']) == 0 and capsys.readouterr().out.startswith('nanogpt-lab ')


def test_nanogpt_arguments_reach_the_command_in_order(recorded: list) -> None:
    args = ['config/x.py', '--max_iters=5', '--learning_rate', '1e-3', 'y.py', '--start=--help', '--dropout=-0.1']
    assert cli.main(['probe', *args]) == 0
    assert recorded[0][1] == args  # `--start=--help` is a value, not a request for help


@pytest.mark.parametrize(
    'argv',
    [
        ['--home', '{home}', 'probe', '--x=1'],
        ['--home={home}', 'probe', '--x=1'],
        ['probe', '--home', '{home}', '--x=1'],
        ['probe', '--x=1', '--home={home}'],
    ],
)
def test_home_works_anywhere(recorded: list, tmp_path: Path, argv: list[str]) -> None:
    home = str(tmp_path / 'elsewhere')
    assert cli.main([a.replace('{home}', home) for a in argv]) == 0
    _, args, seen = recorded[0]
    assert args == ['--x=1'] and seen == home


def test_a_bare_command_line_serves(monkeypatch: pytest.MonkeyPatch) -> None:
    served: list[dict] = []
    import nanogpt_lab.ui.app

    monkeypatch.setattr(nanogpt_lab.ui.app, 'serve', lambda **kw: served.append(kw))
    assert cli.main([]) == 0
    assert cli.main(['--port', '9001', '--no-browser']) == 0
    assert served[0] == {
        'host': '127.0.0.1',
        'port': 8765,
        'open_browser': True,
        'mode': 'simulation',
        'token': None,
        'token_file': None,
    }
    assert served[1]['port'] == 9001 and served[1]['open_browser'] is False


@pytest.mark.parametrize(
    ('argv', 'says'),
    [
        (['frobnicate'], "nanogpt-lab: unknown command 'frobnicate'"),
        (['serve', '--hots=0.0.0.0'], 'nanogpt-lab serve: serve has no option --hots; options: --host --port'),
        (['serve', '--port=abc'], "nanogpt-lab serve: argument --port: invalid int value: 'abc'"),
        (['train', '--batch_size'], 'nanogpt-lab train: --batch_size needs a value (write --batch_size=VALUE)'),
        (['prepare'], 'nanogpt-lab prepare: prepare needs a DATASET: shakespeare_char, shakespeare'),
        (['download-weights', 'gpt5'], 'nanogpt-lab download-weights: download-weights needs one model name'),
        (['export', '--out_dir=x'], 'nanogpt-lab export: export needs --out_dir=RUN --to=DIR'),
        (['train', '--learning_rat=0.1'], "unknown config key 'learning_rat'; did you mean learning_rate?"),
    ],
)
def test_user_errors_are_short_and_exit_2(argv: list[str], says: str, capsys: pytest.CaptureFixture[str]) -> None:
    assert cli.main(argv) == 2
    err = capsys.readouterr().err
    assert says in err and 'Traceback' not in err and len(err.strip().splitlines()) <= 2


def test_a_config_file_is_read_never_run(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    marker = tmp_path / 'ran'
    config = tmp_path / 'evil.py'
    config.write_text(f'import os\nos.system("touch {marker}")\n')
    assert cli.main(['train', str(config)]) == 2
    assert 'config files may only assign literal values' in capsys.readouterr().err and not marker.exists()
