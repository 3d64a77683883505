"""How the pages write big numbers, sizes and durations people read at a glance (one place, every stage)."""

from __future__ import annotations

from nanogpt_lab.ui.i18n import Translator

GIB = 1024**3


def si(n: float) -> str:
    """855166464 -> '855.2 M' (FLOPs and counts people read at a glance)."""
    for unit, scale in (('P', 1e15), ('T', 1e12), ('G', 1e9), ('M', 1e6), ('k', 1e3)):
        if abs(n) >= scale:
            return f'{n / scale:.1f} {unit}'
    return f'{n:.0f}'


def byte_size(n: float) -> str:
    """3.2e9 -> '2.98 GiB'; small amounts in MiB."""
    return f'{n / GIB:.2f} GiB' if n >= GIB / 10 else f'{n / 1024**2:.1f} MiB'


def duration(seconds: float, tr: Translator) -> str:
    """0.2 -> '200 ms', 90 -> '90.0 s', 600 -> '10.0 min', 9000 -> '2.5 h' (in the page's language)."""
    if seconds < 1:
        return tr('architecture.fit.ms', n=f'{seconds * 1000:.0f}')
    if seconds < 120:
        return tr('architecture.fit.s', n=f'{seconds:.1f}')
    if seconds < 7200:
        return tr('architecture.fit.min', n=f'{seconds / 60:.1f}')
    return tr('architecture.fit.h', n=f'{seconds / 3600:.1f}')
