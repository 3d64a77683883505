"""The device badge: CPU model and threads, or GPU name and memory — what real mode will run on.

The CPU part is known without torch and shows at once; `hardware.describe()` imports torch, so it runs in a
worker thread after the page is up and then upgrades the badge (and tells the page, e.g. stage 3's estimator).
"""

from __future__ import annotations

import logging
from functools import lru_cache
from typing import Any

from nicegui import run, ui

from nanogpt_lab import hardware
from nanogpt_lab.ui import theme
from nanogpt_lab.ui.i18n import Translator
from nanogpt_lab.ui.view import View

log = logging.getLogger(__name__)
GIB = 1024**3


def quick_info() -> dict[str, Any]:
    """What is known without importing torch: the CPU, its threads and the machine's memory."""
    import psutil

    cpu = {'model': hardware.cpu_model(), 'threads': hardware.cpu_threads()}
    return {'cpu': cpu, 'cuda': [], 'mps': False, 'ram_bytes': psutil.virtual_memory().total, 'detected': False}


@lru_cache(maxsize=1)  # hardware does not change while the lab runs; torch is imported once, here
def full_info() -> dict[str, Any]:
    """`hardware.describe()` plus the machine's memory; slow the first time (imports torch)."""
    return {**quick_info(), **hardware.describe(), 'detected': True}


def badge_text(info: dict[str, Any], tr: Translator) -> str:
    """'NVIDIA H100 · 79.6 GiB' or 'CPU · AMD EPYC 7B13 · 2 threads'."""
    if info.get('cuda'):
        gpu = info['cuda'][0]
        more = tr('components.device.more_gpus', n=len(info['cuda']) - 1) if len(info['cuda']) > 1 else ''
        return tr('components.device.gpu', name=gpu['name'], gib=f'{gpu["memory_bytes"] / GIB:.1f}') + more
    if info.get('mps'):
        return tr('components.device.mps', model=info['cpu']['model'])
    return tr('components.device.cpu', model=info['cpu']['model'], threads=info['cpu']['threads'])


def device_memory(info: dict[str, Any]) -> tuple[str, int]:
    """The device real mode would train on and the memory it has: ('cuda', bytes) or ('cpu', RAM bytes)."""
    if info.get('cuda'):
        return 'cuda', int(info['cuda'][0]['memory_bytes'])
    return ('mps' if info.get('mps') else 'cpu'), int(info.get('ram_bytes') or 0)


def device_badge(view: View) -> ui.element:
    """A chip with the device; fills `view.device` when detection finishes."""
    tr = view.tr
    info = quick_info()
    with ui.element('div').classes('flex items-center gap-1 rounded-full bg-gray-100 px-3 py-1') as badge:
        icon = ui.icon('memory').classes('text-gray-600')
        label = ui.label(badge_text(info, tr)).classes('text-xs text-gray-800 max-w-[22rem] truncate')
    badge.mark('device-badge')
    label.props['title'] = tr('components.device.help')

    def show(found: dict[str, Any]) -> None:
        label.set_text(badge_text(found, tr))
        icon.name = 'developer_board' if found.get('cuda') or found.get('mps') else 'memory'
        icon.style(f'color: {theme.OK}')

    async def detect() -> None:
        try:
            found = await run.io_bound(full_info)
        except Exception as e:  # no torch, a broken driver: keep what we know, say why in the log
            log.warning('device detection failed: %s', e)
            found = None
        if found is not None and not badge.is_deleted:
            show(found)
            view.device.set(found)

    view.device.set(info)  # the CPU and RAM now; the GPU, if any, once detection finishes
    if view.settings.detect_device:
        ui.timer(0.2, detect, once=True)
    return badge
