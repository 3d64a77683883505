"""`nanogpt-lab ...`: the lab's jobs from a terminal, with nanoGPT's `config/file.py --key=value` syntax.

Each command is thin: parse, build the config, call one jobs or engine function. Heavy modules (torch, NiceGUI)
are imported inside the command that needs them, so `nanogpt-lab --help` is instant.
"""

from __future__ import annotations

import os
import sys
from collections.abc import Callable, Sequence

from nanogpt_lab import __version__
from nanogpt_lab.config import ConfigError

USAGE = """usage: nanogpt-lab [--home DIR] COMMAND [ARGS]

Learn GPT-2 by doing it. With no command, starts the lab in your browser.

commands:
  serve [--host 127.0.0.1] [--port 8765] [--no-browser] [--mode simulation|real] [--token TOKEN]
  prepare DATASET [--input PATH] [--data_dir DIR] [--val_fraction 0.1] [--tokenizer char|gpt2] [--name NAME]
                  DATASET: shakespeare_char | shakespeare | openwebtext | custom
  download-weights gpt2|gpt2-medium|gpt2-large|gpt2-xl
  train [CONFIG.py] [--key=value ...]      nanoGPT's train.py keys; --nproc_per_node=N launches torchrun
  finetune [CONFIG.py] [--key=value ...]   train with fine-tuning defaults (small constant LR, early stopping)
  sample [--out_dir=RUN | --init_from=gpt2|bundled] [--start=TEXT|FILE:path] [--key=value ...]
  export --out_dir=RUN --format=hf|onnx --to=DIR
  bench sample|train|server|ui [--key=value ...]
  sim record|list [--key=value ...]

--home DIR (or NANOGPT_LAB_HOME) picks the workspace folder (default ~/.nanogpt-lab).
Docs: README.md and docs/ in the source tree."""


def _take_home(argv: list[str]) -> list[str]:
    """Apply `--home DIR` wherever it appears, so every command sees the same workspace."""
    out: list[str] = []
    i = 0
    while i < len(argv):
        arg = argv[i]
        if arg == '--home' and i + 1 < len(argv):
            os.environ['NANOGPT_LAB_HOME'] = argv[i + 1]
            i += 2
            continue
        if arg.startswith('--home='):
            os.environ['NANOGPT_LAB_HOME'] = arg.split('=', 1)[1]
        else:
            out.append(arg)
        i += 1
    return out


def _serve(args: list[str], *, open_browser: bool = True) -> int:
    from nanogpt_lab.config import parse_overrides

    _, opts = parse_overrides(a if a != '--no-browser' else '--no_browser=True' for a in args)
    from nanogpt_lab.ui.app import serve

    serve(
        host=str(opts.pop('host', '127.0.0.1')),
        port=int(opts.pop('port', 8765)),
        open_browser=open_browser and not opts.pop('no_browser', False),
        mode=str(opts.pop('mode', 'simulation')),
        token=opts.pop('token', None),
        **opts,
    )
    return 0


def _prepare(args: list[str]) -> int:
    from nanogpt_lab.config import DataConfig, from_args
    from nanogpt_lab.jobs.worker import run_foreground

    if not args or args[0].startswith('--'):
        raise ConfigError('cli.prepare_needs_dataset', key='dataset')
    cfg = from_args(DataConfig, args[1:], base={'dataset': args[0]})
    return run_foreground('prepare-data', cfg)


def _train(args: list[str], kind: str = 'train') -> int:
    from nanogpt_lab.config import TrainConfig, from_args
    from nanogpt_lab.jobs.worker import run_foreground

    base = None
    if kind == 'finetune':
        from nanogpt_lab.training.finetune import FINETUNE_DEFAULTS

        base = FINETUNE_DEFAULTS
    cfg = from_args(TrainConfig, args, base=base)
    if cfg.nproc_per_node > 1 and 'RANK' not in os.environ:
        from nanogpt_lab.training.ddp import launch_torchrun

        return launch_torchrun(kind, args, cfg.nproc_per_node)
    return run_foreground(kind, cfg)


def _download(args: list[str]) -> int:
    from nanogpt_lab.config import PRETRAINED
    from nanogpt_lab.jobs.worker import run_foreground

    if len(args) != 1 or args[0] not in PRETRAINED:
        raise ConfigError('cli.download_needs_model', key='model', allowed=', '.join(PRETRAINED))
    return run_foreground('download-weights', {'model': args[0]})


def _sample(args: list[str]) -> int:
    from nanogpt_lab.config import SampleConfig, from_args
    from nanogpt_lab.inference import sample

    cfg = from_args(SampleConfig, args)
    for text in sample(cfg):
        print(text)
        print('---------------', flush=True)  # after each sample, as nanoGPT's sample.py prints
    return 0


def _export(args: list[str]) -> int:
    from nanogpt_lab.config import parse_overrides
    from nanogpt_lab.export import export_run

    files, opts = parse_overrides(args)
    if files or not {'out_dir', 'to'} <= set(opts):
        raise ConfigError('cli.export_usage', key='out_dir')
    path = export_run(str(opts['out_dir']), str(opts['to']), fmt=str(opts.get('format', 'hf')))
    print(f'exported to {path}')
    return 0


def _bench(args: list[str]) -> int:
    from nanogpt_lab.bench import main as bench_main

    return bench_main(args)


def _sim(args: list[str]) -> int:
    from nanogpt_lab.simulation.record import main as sim_main

    return sim_main(args)


COMMANDS: dict[str, Callable[[list[str]], int]] = {
    'serve': _serve,
    'prepare': _prepare,
    'download-weights': _download,
    'train': _train,
    'finetune': lambda a: _train(a, kind='finetune'),
    'sample': _sample,
    'export': _export,
    'bench': _bench,
    'sim': _sim,
}


def main(argv: Sequence[str] | None = None) -> int:
    """Run one command; user errors print one clear line and exit 2, never a traceback."""
    args = _take_home(list(sys.argv[1:] if argv is None else argv))
    if args and args[0] in ('-h', '--help', 'help'):
        print(USAGE)
        return 0
    if args and args[0] in ('-V', '--version'):
        print(f'nanogpt-lab {__version__}')
        return 0
    if not args or args[0].startswith('--'):
        return _serve(args)
    command = COMMANDS.get(args[0])
    if command is None:
        print(f"nanogpt-lab: unknown command '{args[0]}'\n\n{USAGE}", file=sys.stderr)
        return 2
    try:
        return command(args[1:])
    except ConfigError as e:
        print(f'nanogpt-lab {args[0]}: {e}', file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print(f'nanogpt-lab {args[0]}: interrupted', file=sys.stderr)
        return 130
    except (ValueError, FileNotFoundError, PermissionError, OSError) as e:
        # engine errors are written for people: show the message, not the stack
        print(f'nanogpt-lab {args[0]}: error: {e}', file=sys.stderr)
        return 1


if __name__ == '__main__':  # `python -m nanogpt_lab.cli` (what torchrun runs on every rank)
    raise SystemExit(main())
