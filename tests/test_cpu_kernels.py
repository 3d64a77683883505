"""MKL's kernels chosen at process start: a CPU's features, not its vendor, pick them; what the user set wins."""

from __future__ import annotations

import os
import platform
import shutil
import subprocess
import sys

from nanogpt_lab import cpu_kernels
from nanogpt_lab.cpu_kernels import decide
from nanogpt_lab.messages import ref, render

AVX2 = frozenset({'sse2', 'avx', 'avx2', 'fma'})


def test_an_amd_cpu_with_avx2_gets_mkls_avx2_kernels_and_others_keep_mkls_choice() -> None:
    amd = decide('Linux', 'x86_64', 'AuthenticAMD', AVX2, {})
    assert amd.applied and 'AuthenticAMD' in amd.reason
    assert not decide('Linux', 'x86_64', 'GenuineIntel', AVX2, {}).applied  # Intel's get MKL's best already
    old = decide('Linux', 'x86_64', 'AuthenticAMD', frozenset({'sse2', 'avx'}), {})
    assert not old.applied and 'avx2, fma' in old.reason  # MKL's AVX2 kernels would not run there
    assert not decide('Darwin', 'arm64', '', frozenset(), {}).applied
    user = decide('Linux', 'x86_64', 'AuthenticAMD', AVX2, {'MKL_CBWR': 'COMPATIBLE'})
    assert not user.applied and user.reason == 'MKL: its code path as MKL_CBWR=COMPATIBLE from the environment sets it'
    assert render(amd.why['code'], amd.why['params'], 'zh-CN').startswith('MKL：按本 CPU 的指令集')


def test_a_process_that_loaded_torch_already_is_left_alone() -> None:
    import torch  # noqa: F401 (loaded, as in a notebook)

    assert cpu_kernels.configure() is None


def test_mkl_runs_its_avx2_kernels_wherever_the_cpu_has_avx2(tmp_path) -> None:
    """Real MKL in a fresh process: after the choice at start, MKL's own log names the kernels it dispatched to."""
    code = (
        'from nanogpt_lab import cpu_threads; cpu_threads.configure(); '
        'from nanogpt_lab import cpu_kernels; print("CHOICE", cpu_kernels.chosen().reason, flush=True); '
        'import torch; torch.mm(torch.ones(64, 64), torch.ones(64, 64))'
    )
    clean = {k: v for k, v in os.environ.items() if not k.startswith(('MKL_', 'OMP_'))}
    env = {**clean, 'MKL_VERBOSE': '1', 'NANOGPT_LAB_HOME': str(tmp_path)}
    out = subprocess.run([sys.executable, '-c', code], env=env, capture_output=True, text=True, timeout=120).stdout
    vendor, flags = cpu_kernels.cpu_identity()
    choice = decide(platform.system(), platform.machine(), vendor, flags, clean)
    if choice.applied and not any(shutil.which(c) for c in ('cc', 'gcc', 'clang')):
        choice = cpu_kernels.Choice(False, ref('log.cpu_kernels.no_compiler', vendor=vendor))  # said, not hidden
    header = next((line for line in out.splitlines() if line.startswith('MKL_VERBOSE oneMKL')), '')
    if choice.applied or (vendor == 'GenuineIntel' and {'avx2', 'fma'} <= flags):
        assert 'Advanced Vector Extensions' in header, (out, choice.reason)  # AVX2 or AVX-512, not generic
    assert f'CHOICE {choice.reason}' in out
    built = list((tmp_path / 'cache').glob('mkl-cpu-features-*.so'))
    assert built == ([cpu_kernels.shim_path(tmp_path / 'cache')] if choice.applied else [])
