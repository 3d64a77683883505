"""Which of MKL's matrix kernels a computing process runs on a CPU that is not Intel's, chosen at start, before torch.

torch's x86 wheels multiply float32 matrices with Intel's MKL (statically linked). MKL picks its kernels by the
CPU's vendor, not by what the CPU can do: on an AMD CPU with AVX2 and FMA it runs generic kernels (`MKL_VERBOSE=1`
names "Intel(R) Architecture processors" instead of "Intel(R) AVX2 enabled processors"). MKL asks two functions of
its own, `mkl_serv_intel_cpu` and `mkl_serv_intel_cpu_true`, whether the CPU is Intel's. A shared library that
defines both (each returns 1), loaded into the process's global symbol scope before torch, answers for them; MKL
then picks its kernels by the CPU's features, as it does on an Intel CPU. Only the kernels change, not the math: the
same float32 products, summed in another order (docs/benchmarks.md, "Looking for 10% more with the same math",
has what it buys). The library is these two one-line C functions, built once with the system's C compiler and kept
in the workspace's cache; without a compiler, or on a CPU without AVX2 and FMA, nothing changes.

Like `cpu_threads`, the choice belongs to whoever starts a computing process (`cpu_threads.configure` calls
`configure` here); importing the lab never loads anything. MKL's own code-path settings (`MKL_ENABLE_INSTRUCTIONS`,
`MKL_CBWR`) set by the user win: MKL is then left to them.
"""

from __future__ import annotations

import ctypes
import hashlib
import os
import platform
import shutil
import subprocess
import sys
import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from nanogpt_lab.messages import ref, render

# MKL's two vendor checks, answered "Intel": MKL then dispatches on the CPU's feature flags alone
SHIM_SOURCE = 'int mkl_serv_intel_cpu(void) { return 1; }\nint mkl_serv_intel_cpu_true(void) { return 1; }\n'
USER_SETTINGS = ('MKL_ENABLE_INSTRUCTIONS', 'MKL_CBWR')  # MKL's own code-path choices: the user's, when set
NEEDED_FLAGS = ('avx2', 'fma')  # what MKL's AVX2 kernels execute; without them MKL must keep its generic ones
COMPILE_TIMEOUT_S = 60


@dataclass(frozen=True)
class Choice:
    """Whether MKL was pointed at the CPU's own kernels, and why (a catalog message)."""

    applied: bool
    why: dict[str, Any]  # messages.ref

    @property
    def reason(self) -> str:
        """The choice in English, for config.json."""
        return render(self.why['code'], self.why['params'])


_chosen: Choice | None = None


def cpuinfo(*keys: str) -> dict[str, str]:
    """The first value of each of these /proc/cpuinfo fields that it has (none where it cannot be read: not Linux)."""
    found: dict[str, str] = {}
    try:
        with open('/proc/cpuinfo', encoding='utf-8') as f:
            for line in f:
                key, _, value = line.partition(':')
                key = key.strip()
                if key in keys and key not in found:
                    found[key] = value.strip()
                    if len(found) == len(keys):
                        break
    except OSError:
        pass
    return found


def cpu_identity() -> tuple[str, frozenset[str]]:
    """The CPU's vendor id and feature flags ('' and none where they cannot be read)."""
    info = cpuinfo('vendor_id', 'flags')
    return info.get('vendor_id', ''), frozenset(info.get('flags', '').split())


def decide(system: str, machine: str, vendor: str, flags: frozenset[str], environ: dict[str, str]) -> Choice:
    """The choice as a pure function of the machine and what the user set (tested on any CPU).

    Only Linux on x86-64 (where torch's wheels link MKL and the loader lets a library answer for MKL's functions),
    only a CPU that is not Intel's (Intel's already get MKL's best kernels) and only one that runs AVX2 and FMA.
    """
    user = [name for name in USER_SETTINGS if environ.get(name)]
    if user:
        return Choice(False, ref('log.cpu_kernels.from_env', name=user[0], value=environ[user[0]]))
    if system != 'Linux' or machine not in ('x86_64', 'AMD64'):
        return Choice(False, ref('log.cpu_kernels.not_x86_linux', system=system, machine=machine))
    if vendor in ('GenuineIntel', ''):
        return Choice(False, ref('log.cpu_kernels.intel' if vendor else 'log.cpu_kernels.unknown'))
    missing = [flag for flag in NEEDED_FLAGS if flag not in flags]
    if missing:
        return Choice(False, ref('log.cpu_kernels.no_avx2', vendor=vendor, missing=', '.join(missing)))
    return Choice(True, ref('log.cpu_kernels.features', vendor=vendor))


def shim_path(cache: Path) -> Path:
    """Where the built library is kept: named by its source and the machine, so a change rebuilds it."""
    digest = hashlib.sha256(f'{SHIM_SOURCE}|{platform.machine()}'.encode()).hexdigest()[:16]
    return cache / f'mkl-cpu-features-{digest}.so'


def build_shim(target: Path) -> str | None:
    """Compile SHIM_SOURCE into `target` (atomically); None when built, '' without a compiler, else what failed."""
    from nanogpt_lab.fileio import atomic_write_bytes

    compiler = next((c for c in (os.environ.get('CC'), 'cc', 'gcc', 'clang') if c and shutil.which(c)), None)
    if compiler is None:
        return ''
    with tempfile.TemporaryDirectory() as tmp:
        src, lib = Path(tmp) / 'shim.c', Path(tmp) / 'shim.so'
        src.write_text(SHIM_SOURCE, encoding='utf-8')
        try:
            done = subprocess.run(
                [compiler, '-O2', '-shared', '-fPIC', '-o', str(lib), str(src)],
                capture_output=True,
                text=True,
                timeout=COMPILE_TIMEOUT_S,
            )
        except (OSError, subprocess.TimeoutExpired) as e:
            return f'{compiler}: {e}'
        if done.returncode or not lib.is_file():
            return f'{compiler}: {(done.stderr or done.stdout).strip()[-300:]}'
        try:
            atomic_write_bytes(target, lib.read_bytes())
        except OSError as e:
            return f'{target}: {e.strerror or e}'
    return None


def configure() -> Choice | None:
    """Decide and apply for this process; call it before torch is imported (a process with torch loaded: None)."""
    global _chosen
    if 'torch' in sys.modules:
        return None
    vendor, flags = cpu_identity()
    choice = decide(platform.system(), platform.machine(), vendor, flags, dict(os.environ))
    if choice.applied:
        choice = _load(choice)
    _chosen = choice
    return choice


def _load(choice: Choice) -> Choice:
    """Build the library once (workspace cache) and load it into the global symbol scope, where MKL's calls find it."""
    from nanogpt_lab import workspace

    path = shim_path(workspace.home() / 'cache')
    failed = None if path.is_file() else build_shim(path)
    if failed is None:
        try:
            ctypes.CDLL(str(path), mode=ctypes.RTLD_GLOBAL)
        except OSError as e:
            failed = str(e)
    vendor = choice.why['params']['vendor']
    if failed == '':
        return Choice(False, ref('log.cpu_kernels.no_compiler', vendor=vendor))
    if failed is not None:
        return Choice(False, ref('log.cpu_kernels.not_built', vendor=vendor, reason=failed))
    return choice


def chosen() -> Choice | None:
    """The choice `configure()` made in this process, or None (a notebook, a test calling the engine directly)."""
    return _chosen
