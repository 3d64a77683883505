"""The real-mode panel: one job as it runs — status and progress bar (with Stop), the device, the checkpoints it has
written, its log, and its errors on the page (never only in a terminal). Stages 4 and 5 share it.

`await panel.follow(manager, job, on_event)` streams the job's events (`JobManager.subscribe`, through
`job_progress`) into the panel and hands each to `on_event` (the loss chart), returning the `end` event. A stopped
training run keeps its checkpoint: the panel then offers Resume (`on_resume(params)`, the job request that
continues it where it stopped, with the settings it ran with).
"""

from __future__ import annotations

import time
from collections.abc import Awaitable, Callable
from typing import Any

from nicegui import ui

from nanogpt_lab import workspace
from nanogpt_lab.jobs.client import JobsClient
from nanogpt_lab.ui import theme
from nanogpt_lab.ui.components.job_progress import job_progress
from nanogpt_lab.ui.i18n import Translator

LOG_LINES = 200
RESUMABLE = ('train', 'finetune')
NOT_RESUMED = ('out_dir', 'data_dir', 'init_from')  # where the run is and what it started from: the resume says


def resume_request(job: dict[str, Any]) -> dict[str, Any]:
    """The job request that continues a stopped run in its own folder, from its checkpoint, as it was configured."""
    config = {k: v for k, v in (job.get('config') or {}).items() if k not in NOT_RESUMED}
    return {**config, 'init_from': 'resume', 'out_dir': job['id']}


def log_line(event: dict[str, Any], tr: Translator) -> str | None:
    """What the log shows for an event (None: not a log line). Train events are the chart's, not the log's."""
    kind = event.get('type')
    stamp = time.strftime('%H:%M:%S', time.localtime(event['t'])) if isinstance(event.get('t'), (int, float)) else ''
    if kind == 'log':
        level = tr.message(f'log.level.{event.get("level", "info")}')
        return f'{stamp} [{level}] {tr.event_message(event)}'
    if kind == 'eval':
        saved = ' · ' + tr('components.panel.saved') if event.get('saved') else ''
        return (
            f'{stamp} '
            + tr(
                'components.panel.eval_line',
                iter=f'{event.get("iter", 0):,}',
                train=f'{event.get("train_loss", 0):.4f}',
                val=f'{event.get("val_loss", 0):.4f}',
            )
            + saved
        )
    if kind == 'start':
        return f'{stamp} ' + tr('components.panel.started', kind=event.get('kind', ''), run=event.get('run_id', ''))
    if kind == 'end':
        summary = event.get('summary') or {}
        reason = tr.coded(summary.get('reason_code'), summary.get('reason_params'), summary.get('reason'))
        line = f'{stamp} ' + tr('components.panel.ended', status=tr.message(f'job.status.{event.get("status")}'))
        return (
            line + (f' · {reason}' if reason else '') + (f' · {tr.event_message(event)}' if event.get('error') else '')
        )
    return None


def device_of(event: dict[str, Any]) -> str | None:
    """The device a job runs on, as its events say: the start event's config, or the end summary."""
    if event.get('type') == 'start':
        device = (event.get('config') or {}).get('device')
        return device if device and device != 'auto' else None
    if event.get('type') == 'end':
        return (event.get('summary') or {}).get('device')
    return None


class real_mode_panel(ui.card):  # noqa: N801 - a NiceGUI component
    """`real_mode_panel(tr=..., marker=...)`: hidden until `follow` shows a job."""

    def __init__(
        self,
        *,
        tr: Translator,
        marker: str,
        explain: Callable[[dict], str] | None = None,
        on_resume: Callable[[dict[str, Any]], Awaitable[None]] | None = None,
    ) -> None:
        super().__init__()
        self.tr, self.marker, self.on_resume = tr, marker, on_resume
        self.resume_job: dict[str, Any] | None = None
        self.classes(theme.CARD).props('flat bordered').mark(marker)
        with self:
            with ui.row().classes('w-full items-center justify-between gap-2'):
                ui.label(tr('components.panel.title')).classes(theme.CARD_TITLE)
                self.job_label = ui.label().classes(f'{theme.CAPTION} font-mono').mark(f'{marker}-job')
            self.progress = job_progress(tr=tr, marker=f'{marker}-progress', explain=explain)
            with ui.row().classes('w-full gap-6 text-sm items-center'):
                self.device = ui.label().mark(f'{marker}-device')
                self.checkpoints = ui.label(tr('components.panel.no_checkpoint')).mark(f'{marker}-checkpoints')
                with ui.row().classes('items-center gap-2') as self.resume:
                    button = ui.button(tr('walk.run.resume'), icon='play_arrow', on_click=self._resume)
                    button.props('unelevated dense no-caps').mark(f'{marker}-resume')
                    ui.label(tr('walk.run.resume_help')).classes(theme.CAPTION)
                self.resume.set_visibility(False)
            self.log = ui.log(max_lines=LOG_LINES).classes('w-full h-40 text-xs').mark(f'{marker}-log')
        self.set_visibility(False)
        self.saved: list[int] = []

    @property
    def error(self) -> str:
        """The job's error as the page shows it ('' while there is none)."""
        return self.progress.error.text

    async def follow(
        self, manager: JobsClient, job: dict, on_event: Callable[[dict], None] | None = None
    ) -> dict | None:
        """Show `job` until it ends (its events also go to `on_event`); return its end event."""
        self.set_visibility(True)
        self.resume.set_visibility(False)
        self.saved = []
        self.log.clear()
        self.job_label.set_text(job['id'])
        device = self.tr('components.panel.replay') if job.get('kind') == 'simulate' else _job_device(job)
        self.device.set_text(self.tr('components.panel.device', device=device))
        self.checkpoints.set_text(self.tr('components.panel.no_checkpoint'))

        def take(event: dict) -> None:
            self._event(event)
            if on_event is not None:
                on_event(event)

        end = await self.progress.follow(manager, job, take)
        if end is not None and not self.is_deleted:
            saved = self._checkpoint_on_disk(manager, job['id'])
            stopped = end.get('status') == 'cancelled' and job.get('kind') in RESUMABLE
            self.resume_job = manager.get(job['id']) if saved and stopped and self.on_resume else None
            self.resume.set_visibility(self.resume_job is not None)
        return end

    def _checkpoint_on_disk(self, manager: JobsClient, job_id: str) -> bool:
        """After the end, say where the run's checkpoint is (a stopped run saves one on the way out)."""
        try:
            ckpt = manager.run_dir(job_id) / workspace.CKPT_NAME
        except LookupError:
            return False
        if ckpt.is_file():
            self.checkpoints.set_text(
                self.tr('components.panel.checkpoint_file', path=f'runs/{job_id}/{workspace.CKPT_NAME}')
            )
        return ckpt.is_file()

    async def _resume(self) -> None:
        if self.resume_job is not None and self.on_resume is not None:
            job, self.resume_job = self.resume_job, None
            self.resume.set_visibility(False)
            await self.on_resume(resume_request(job))

    def _event(self, event: dict) -> None:
        line = log_line(event, self.tr)
        if line:
            self.log.push(line)
        device = device_of(event)
        if device:
            self.device.set_text(self.tr('components.panel.device', device=device))
        if event.get('type') == 'eval' and event.get('saved'):
            self.saved.append(int(event.get('iter') or 0))
            shown = ', '.join(f'{i:,}' for i in self.saved[-5:])
            self.checkpoints.set_text(self.tr('components.panel.checkpoints', n=len(self.saved), iters=shown))


def _job_device(job: dict) -> str:
    devices = job.get('devices') or []
    return ', '.join(devices) if devices else (job.get('config') or {}).get('device', '?')
