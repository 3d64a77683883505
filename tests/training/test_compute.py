"""The CPU runtime keeps freed activation memory for the next step instead of handing it back to the OS."""

from __future__ import annotations

import platform
import subprocess
import sys

import pytest

PAGES_RETURNED = """
import ctypes, sys
from nanogpt_lab import hardware
if sys.argv[1] == 'tuned':
    assert hardware.keep_freed_memory()
libc = ctypes.CDLL('libc.so.6')
libc.malloc.restype = ctypes.c_void_p
def resident(): return int(open('/proc/self/statm').read().split()[1])
block = libc.malloc(16 << 20)  # a 16 MiB activation
ctypes.memset(block, 1, 16 << 20)
before = resident()
libc.free(ctypes.c_void_p(block))
print(before - resident())
"""


def _pages_returned(mode: str) -> int:
    out = subprocess.run([sys.executable, '-c', PAGES_RETURNED, mode], capture_output=True, text=True, check=True)
    return int(out.stdout)


@pytest.mark.skipif(platform.libc_ver()[0] != 'glibc', reason='mallopt is glibc')
def test_freed_activations_stay_mapped_for_the_next_step() -> None:
    assert _pages_returned('default') >= 4000  # glibc unmaps a freed 16 MiB block: the next step faults it back in
    assert _pages_returned('tuned') < 100
