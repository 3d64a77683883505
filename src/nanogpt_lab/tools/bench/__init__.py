"""Benchmarks behind `nanogpt-lab bench`: sampling, training, the server and the UI, each against a baseline run
in the same process, and SFT against its targets; recorded with machine, threads and load (docs/benchmarks.md)."""

from __future__ import annotations

import importlib

SUITES = {
    'sample': 'nanogpt_lab.tools.bench.sample',
    'train': 'nanogpt_lab.tools.bench.train',
    'server': 'nanogpt_lab.tools.bench.server',
    'ui': 'nanogpt_lab.tools.bench.ui',
    'sft': 'nanogpt_lab.tools.bench.sft',
    'dpo': 'nanogpt_lab.tools.bench.dpo',
}
USAGE = f'{"|".join(SUITES)} [--key=value ...]'  # `nanogpt-lab bench --help` and a bad suite name say the same


def main(args: list[str]) -> int:
    """`nanogpt-lab bench SUITE [--key=value ...]`: run one suite and print its table."""
    if not args or args[0] not in SUITES:
        print(f'usage: nanogpt-lab bench {USAGE}')
        return 2
    return importlib.import_module(SUITES[args[0]]).main(args[1:])
