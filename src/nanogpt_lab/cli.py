"""`nanogpt-lab ...`: the lab's jobs from a terminal, with nanoGPT's `config/file.py --key=value` syntax.

Each command is one small function registered with `@command(...)`: argparse gives it `--help` and `--home`, and
hands it the nanoGPT-style arguments (config files, then `--key=value` flags) to build its config from. Heavy
modules (torch, NiceGUI) are imported inside the command that needs them, so `nanogpt-lab --help` is instant.
"""

from __future__ import annotations

import argparse
import os
import sys
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from typing import NoReturn

from nanogpt_lab import __version__
from nanogpt_lab.config import (
    DATASETS,
    PRETRAINED,
    ChatConfig,
    ConfigError,
    ConversationsConfig,
    DpoConfig,
    EvalConfig,
    SampleConfig,
    TrainConfig,
)
from nanogpt_lab.tools import bench

NANOGPT_ARGS = '[CONFIG.py ...] [--key=value ...]'
CONVERSATION_SOURCES = ('conversations', 'lab-tasks')  # `prepare` these for SFT (alignment/), not for pretraining
PREFERENCE_SOURCES = ('preferences', 'lab-preferences')  # `prepare` these for DPO
Handler = Callable[[argparse.Namespace, list[str]], int]  # (its own options, the nanoGPT-style arguments) -> status


@dataclass(frozen=True)
class Command:
    """One subcommand: what it runs, its one-line summary, and either argparse options or nanoGPT-style arguments."""

    run: Handler
    summary: str
    args: str = NANOGPT_ARGS  # how its nanoGPT-style arguments read in --help ('' when it takes none)
    options: Callable[[argparse.ArgumentParser], None] | None = None  # argparse options instead of --key=value
    details: str = ''  # more --help text


COMMANDS: dict[str, Command] = {}


def command(name: str, summary: str, **how: object) -> Callable[[Handler], Handler]:
    """Register `fn` as `nanogpt-lab NAME` (the one line a new subcommand needs besides its function)."""

    def register(fn: Handler) -> Handler:
        COMMANDS[name] = Command(fn, summary, **how)  # type: ignore[arg-type]
        return fn

    return register


def config_keys(cls: type) -> str:
    """A config class's keys for --help: every one works as --key=value or in a config file."""
    return 'Keys: ' + ' '.join(f'--{k}' for k in cls.model_fields)


# --- the commands -------------------------------------------------------------------------------------------------


def _serve_options(p: argparse.ArgumentParser) -> None:
    p.add_argument('--host', default='127.0.0.1', help='address to bind (default 127.0.0.1; others need a token)')
    p.add_argument('--port', type=int, default=8765, help='port (default 8765)')
    p.add_argument('--no-browser', '--no_browser', dest='no_browser', action='store_true', help='do not open a tab')
    p.add_argument('--mode', default='simulation', help='the mode new tabs open in: simulation (default) or real')
    p.add_argument(
        '--token',
        default=None,
        help='access token every request must carry, 16+ characters (generated '
        'off loopback); `ps` shows it: prefer --token-file or $NANOGPT_LAB_TOKEN',
    )
    p.add_argument('--token-file', default=None, help='read the access token from the first line of this file')


@command('serve', 'start the lab in your browser (the default command)', args='', options=_serve_options)
def _serve(opts: argparse.Namespace, args: list[str]) -> int:
    from nanogpt_lab import cpu_kernels

    cpu_kernels.configure()  # before torch loads: MKL's kernels for what the server computes in-process
    from nanogpt_lab.ui.app import serve

    serve(
        host=opts.host,
        port=opts.port,
        open_browser=not opts.no_browser,
        mode=opts.mode,
        token=opts.token,
        token_file=opts.token_file,
    )
    return 0


@command(
    'prepare',
    'tokenize a dataset into train.bin / val.bin (+ meta.pkl, tokenizer.model or tokenizer.json)',
    args=f'DATASET {NANOGPT_ARGS}',
    details=f'DATASET: {" | ".join(DATASETS)}. Keys: --input=PATH --data_dir=DIR --val_fraction=0.1 '
    '--tokenizer=char|gpt2|sentencepiece|bpe (sentencepiece and bpe are trained on the train split) '
    '--vocab_size=N (trained tokenizers, at most 65535) --name=NAME --lang=en|zh|all (dialogue) '
    '--simplified=True (tang_poems: traditional to simplified with OpenCC). Conversations for SFT (docs/alignment.md): '
    "`prepare lab-tasks` (the lab's own instruction set), `prepare conversations --input=FILE.jsonl | --hf=NAME`",
)
def _prepare(opts: argparse.Namespace, args: list[str]) -> int:
    from nanogpt_lab.config import DataConfig, from_args
    from nanogpt_lab.jobs.worker import run_foreground

    if args and args[0] in PREFERENCE_SOURCES:
        from nanogpt_lab.config import PreferencesConfig

        flags = ['--from_run' + a[len('--from') :] if a == '--from' or a.startswith('--from=') else a for a in args[1:]]
        return run_foreground('prepare-preferences', from_args(PreferencesConfig, flags, base={'source': args[0]}))
    if args and args[0] in CONVERSATION_SOURCES:
        cfg = from_args(ConversationsConfig, args[1:], base={'source': args[0]})
        return run_foreground('prepare-conversations', cfg)
    if not args or args[0].startswith('--'):
        raise ConfigError('cli.prepare_needs_dataset', key='dataset', allowed=', '.join(DATASETS))
    return run_foreground('prepare-data', from_args(DataConfig, args[1:], base={'dataset': args[0]}))


@command('download-weights', 'download GPT-2 weights from the Hugging Face Hub', args=' | '.join(PRETRAINED))
def _download(opts: argparse.Namespace, args: list[str]) -> int:
    from nanogpt_lab.jobs.worker import run_foreground

    if len(args) != 1 or args[0] not in PRETRAINED:
        raise ConfigError('cli.download_needs_model', key='model', allowed=', '.join(PRETRAINED))
    return run_foreground('download-weights', {'model': args[0]})


def _train_kind(kind: str, args: list[str]) -> int:
    """`train`, `finetune`, `sft`: the kind's preset, then config files and flags; --nproc_per_node=N runs torchrun."""
    from nanogpt_lab.config import TrainConfig, from_args, run_preset
    from nanogpt_lab.jobs.worker import run_foreground

    cfg = from_args(TrainConfig, args, base=run_preset(kind))
    if kind == 'sft' and cfg.init_from == 'scratch':
        raise ConfigError('alignment_engine.needs_init_from', key='init_from')
    if cfg.nproc_per_node > 1 and 'RANK' not in os.environ:
        from nanogpt_lab.training.ddp import launch_torchrun

        return launch_torchrun(kind, args, cfg)
    return run_foreground(kind, cfg)


@command(
    'train',
    "train a GPT (nanoGPT's train.py keys; --nproc_per_node=N launches torchrun)",
    details=config_keys(TrainConfig),
)
def _train(opts: argparse.Namespace, args: list[str]) -> int:
    return _train_kind('train', args)


@command(
    'finetune',
    'train with the fine-tuning preset (config.FINETUNE_PRESET: small constant LR, early stopping)',
    details=config_keys(TrainConfig),
)
def _finetune(opts: argparse.Namespace, args: list[str]) -> int:
    return _train_kind('finetune', args)


@command(
    'sft',
    'supervised fine-tuning on conversations: --init_from=RUN|CKPT|gpt2* --dataset=lab-tasks (config.SFT_PRESET)',
    details=config_keys(TrainConfig),
)
def _sft(opts: argparse.Namespace, args: list[str]) -> int:
    return _train_kind('sft', args)


@command(
    'chat',
    'chat with a fine-tuned run in the terminal: --out_dir=RUN; /system TEXT, /reset, /quit (or EOF)',
    details='Piped input (not a terminal): each line is one message, each answer one line. ' + config_keys(ChatConfig),
)
def _chat(opts: argparse.Namespace, args: list[str]) -> int:
    from nanogpt_lab import cpu_threads
    from nanogpt_lab.config import from_args

    cfg = from_args(ChatConfig, args)
    cpu_threads.configure(0)  # before torch loads
    from nanogpt_lab.inference.chat import ChatSession, run_terminal

    session = ChatSession.from_config(cfg)
    interactive = sys.stdin.isatty()
    return run_terminal(session, _typed_lines() if interactive else sys.stdin, _write, interactive)


def _typed_lines() -> Iterator[str]:
    """What the user types, line by line, until EOF (Ctrl-D)."""
    while True:
        try:
            yield input('> ')
        except EOFError:
            print()
            return


def _write(text: str, flush: bool = False) -> None:
    sys.stdout.write(text)
    if flush:
        sys.stdout.flush()


@command(
    'eval',
    'score a run: val loss in nats/token and bits per character; exact match per task kind for a chat run',
    args='--out_dir=RUN [--dataset=NAME] [--data_dir=DIR] [--device=cpu] [--max_conversations=1000] [--threads=N]',
    details='Writes RUN/report.json (docs/alignment.md). ' + config_keys(EvalConfig),
)
def _eval(opts: argparse.Namespace, args: list[str]) -> int:
    from pathlib import Path

    from nanogpt_lab.config import from_args
    from nanogpt_lab.jobs.worker import run_foreground

    cfg = from_args(EvalConfig, args)
    status = run_foreground('eval', cfg)
    if status == 0:
        from nanogpt_lab.evaluation.report import report_lines
        from nanogpt_lab.evaluation.report_file import read_report

        print('\n'.join(report_lines(read_report(Path(cfg.out_dir)))))
    return status


@command(
    'dpo',
    'preference tuning (DPO) of an SFT run: --init_from=SFT_RUN --dataset=PAIRS [--beta=0.5 ...] (config.DPO_PRESET)',
    details=config_keys(DpoConfig),
)
def _dpo(opts: argparse.Namespace, args: list[str]) -> int:
    from nanogpt_lab.config import from_args, run_preset
    from nanogpt_lab.jobs.worker import run_foreground

    cfg = from_args(DpoConfig, args, base=run_preset('dpo'))
    if cfg.init_from == 'scratch':
        raise ConfigError('dpo.needs_init_from', key='init_from')
    return run_foreground('dpo', cfg)


@command(
    'report',
    "the report card of a run's lineage (base → SFT → DPO), written into RUN/report.json",
    args='--out_dir=RUN [--data_dir=DIR] [--device=auto] [--max_conversations=1000]',
)
def _report(opts: argparse.Namespace, args: list[str]) -> int:
    from nanogpt_lab.config import ReportConfig, from_args
    from nanogpt_lab.jobs.worker import run_foreground

    return run_foreground('report', from_args(ReportConfig, args))


@command(
    'sample',
    "sample text, as nanoGPT's sample.py: --out_dir=RUN | --init_from=gpt2*|bundled|PATH, --start=TEXT|FILE:path",
    details=config_keys(SampleConfig),
)
def _sample(opts: argparse.Namespace, args: list[str]) -> int:
    from nanogpt_lab.config import SampleConfig, from_args
    from nanogpt_lab.hardware import emulated_dtype, resolve_device
    from nanogpt_lab.inference import sample
    from nanogpt_lab.messages import render

    cfg = from_args(SampleConfig, args)
    if emulated_dtype(cfg.dtype, resolve_device(cfg.device)):
        print(f'warning: {render("log.slow_dtype", {"dtype": cfg.dtype})}', file=sys.stderr)
    for text in sample(cfg):
        print(text)
        print('---------------', flush=True)  # after each sample, as nanoGPT's sample.py prints
    return 0


@command(
    'export', 'export a run to Hugging Face (safetensors) or ONNX', args='--out_dir=RUN --to=DIR [--format=hf|onnx]'
)
def _export(opts: argparse.Namespace, args: list[str]) -> int:
    from nanogpt_lab.config import parse_overrides
    from nanogpt_lab.export import export_run

    files, flags = parse_overrides(args)
    if files or not {'out_dir', 'to'} <= set(flags):
        raise ConfigError('cli.export_usage', key='out_dir')
    path = export_run(str(flags['out_dir']), str(flags['to']), fmt=str(flags.get('format', 'hf')))
    print(f'exported to {path}')
    return 0


@command('bench', 'benchmarks against a baseline in the same run', args=bench.USAGE)
def _bench(opts: argparse.Namespace, args: list[str]) -> int:
    from nanogpt_lab import cpu_kernels

    cpu_kernels.configure()  # before torch loads: MKL's kernels as in the runs it measures (a peak for MFU, too)
    return bench.main(args)


@command('sim', 'record or list the simulation assets', args='record|list|verify [NAME ...] [--key=value ...]')
def _sim(opts: argparse.Namespace, args: list[str]) -> int:
    from nanogpt_lab.tools.record_simulation import main as sim_main

    return sim_main(args)


# --- parsing ------------------------------------------------------------------------------------------------------


class _Parser(argparse.ArgumentParser):
    """argparse whose user errors reach `main` as ConfigError (one clear line, never a usage dump), and which
    remembers its option names for the message about an unknown one."""

    def __init__(self, *args: object, **kwargs: object):
        self.option_names: list[str] = []  # before argparse's own __init__, which adds -h
        self.subcommands: dict[str, _Parser] = {}
        super().__init__(*args, **kwargs)  # type: ignore[arg-type]

    def add_argument(self, *names: str, **kwargs: object) -> argparse.Action:
        action = super().add_argument(*names, **kwargs)  # type: ignore[arg-type]
        self.option_names += action.option_strings[:1]
        return action

    def error(self, message: str) -> NoReturn:
        raise ConfigError('cli.bad_arguments', detail=message, prog=self.prog)


def _home_option(p: argparse.ArgumentParser) -> None:
    # SUPPRESS: a subcommand's parser must not overwrite a --home given before the command
    p.add_argument('--home', metavar='DIR', default=argparse.SUPPRESS, help='the workspace (or NANOGPT_LAB_HOME)')


def build_parser() -> _Parser:
    """The whole CLI: one subparser per registered command, each with --help and --home."""
    parser = _Parser(
        prog='nanogpt-lab',
        description='Learn GPT-2 by doing it. With no command, starts the lab in your browser.',
        epilog='--home DIR (or NANOGPT_LAB_HOME) picks the workspace folder (default ~/.nanogpt-lab). '
        'Docs: README.md and docs/ in the source tree.',
        allow_abbrev=False,
    )
    parser.add_argument('-V', '--version', action='version', version=f'nanogpt-lab {__version__}')
    _home_option(parser)
    subparsers = parser.add_subparsers(dest='command', metavar='COMMAND', parser_class=_Parser)
    for name, cmd in COMMANDS.items():
        sub = subparsers.add_parser(
            name,
            help=cmd.summary,
            description=f'{cmd.summary}. {cmd.details}'.strip(),
            usage=f'nanogpt-lab {name} [-h] [--home DIR]' + (' [options]' if cmd.options else f' {cmd.args}'),
            allow_abbrev=False,
        )
        _home_option(sub)
        if cmd.options:
            cmd.options(sub)
        parser.subcommands[name] = sub
    return parser


def _command_at(args: list[str]) -> int:
    """Where the command name is: after any `--home DIR` / `--home=DIR` that comes first."""
    i = 0
    while i < len(args) and (args[i] == '--home' or args[i].startswith('--home=')):
        i += 2 if args[i] == '--home' else 1
    return i


def _with_default_command(args: list[str]) -> list[str]:
    """Bare `nanogpt-lab [--port 9000 ...]` means `nanogpt-lab serve [...]`; `help [COMMAND]` means `[COMMAND] -h`."""
    i = _command_at(args)
    if i < len(args) and args[i] == 'help':
        return [*args[:i], *args[i + 1 : i + 2], '--help']
    if i >= len(args) or (args[i].startswith('-') and args[i] not in ('-h', '--help', '-V', '--version')):
        return [*args[:i], 'serve', *args[i:]]
    return args


def _parse(args: list[str]) -> tuple[argparse.Namespace, list[str]]:
    """The command's argparse options (`command` names it) and its nanoGPT-style arguments, in order."""
    parser = build_parser()
    opts, rest = parser.parse_known_args(args)
    sub = parser.subcommands[opts.command]
    if COMMANDS[opts.command].options and rest:
        known = ' '.join(n for n in sub.option_names if n not in ('-h', '--home'))
        key = rest[0].split('=', 1)[0].lstrip('-')
        raise ConfigError('cli.no_such_option', key=key, command=opts.command, allowed=known)
    if 'home' in opts:
        os.environ['NANOGPT_LAB_HOME'] = opts.home
    return opts, rest


def _commands_line() -> str:
    return f'commands: {", ".join(COMMANDS)} (nanogpt-lab COMMAND --help)'


def main(argv: Sequence[str] | None = None) -> int:
    """Run one command; user errors print one clear line and exit 2, never a traceback."""
    args = _with_default_command(list(sys.argv[1:] if argv is None else argv))
    name = args[_command_at(args)] if _command_at(args) < len(args) else ''
    where = f'nanogpt-lab {name}' if name in COMMANDS else 'nanogpt-lab'
    try:
        if not name.startswith('-') and name not in COMMANDS:
            raise ConfigError('cli.unknown_command', key='command', command=name, usage=_commands_line())
        opts, rest = _parse(args)
        return COMMANDS[opts.command].run(opts, rest)
    except SystemExit as e:  # --help and --version print and stop in argparse
        return e.code if isinstance(e.code, int) else 0
    except ConfigError as e:
        print(f'{where}: {e}', file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print(f'{where}: interrupted', file=sys.stderr)
        return 130
    except (ValueError, FileNotFoundError, PermissionError, OSError) as e:
        # engine errors are written for people: show the message, not the stack
        print(f'{where}: error: {e}', file=sys.stderr)
        return 1


if __name__ == '__main__':  # `python -m nanogpt_lab.cli` (what torchrun runs on every rank)
    raise SystemExit(main())
