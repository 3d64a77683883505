"""A real-mode job as it runs: a live progress bar, its status, its error — fed by the job's event stream.

`job_progress(tr=..., marker=...)` draws an idle panel; `await panel.follow(manager, job)` streams the job's
events (`JobManager.subscribe`, no polling here) into it and returns the `end` event (or None if the stream
stopped without one). Stages 1, 4 and 5 share it.
"""

from __future__ import annotations

import contextlib
import logging
from collections.abc import Callable, Iterator

from nicegui import ui

from nanogpt_lab.jobs.client import JobsClient
from nanogpt_lab.ui import theme
from nanogpt_lab.ui.i18n import Translator

log = logging.getLogger(__name__)


def jobs_client() -> JobsClient | None:
    """The jobs this lab runs: the server's in-process JobManager (mounted by `server.app.install`), or None."""
    from nicegui import app

    jobs = getattr(app.state, 'jobs', None)
    return jobs if isinstance(jobs, JobsClient) else None


@contextlib.contextmanager
def disabled(*buttons: ui.element) -> Iterator[None]:
    """The buttons that start a job disabled while it runs (one job at a time), then as they were before."""
    enabled = [b.enabled for b in buttons]
    for b in buttons:
        b.set_enabled(False)
    try:
        yield
    finally:
        for b, was in zip(buttons, enabled, strict=True):
            if not b.is_deleted:
                b.set_enabled(was)


class job_progress(ui.column):  # noqa: N801 - a NiceGUI component
    """Progress bar + status line + error for one job at a time."""

    def __init__(self, *, tr: Translator, marker: str, explain: Callable[[dict], str] | None = None) -> None:
        super().__init__()
        self.tr = tr
        # explain(event): a failed job's end (or error log) event in the page's words, by its code and parameters
        self.explain = explain or (lambda event: tr('components.job.error', message=tr.event_message(event)))
        self.job_id: str | None = None
        self.classes('w-full gap-1').mark(marker)
        with self:
            with ui.row().classes('w-full items-center gap-3 no-wrap'):
                self.bar = ui.linear_progress(value=0, show_value=False, size='10px').classes('flex-1')
                self.bar.mark(f'{marker}-bar')
                self.cancel_button = ui.button(tr('components.job.cancel'), on_click=self._cancel)
                self.cancel_button.props('flat dense no-caps color=negative').mark(f'{marker}-cancel')
            self.status = ui.label().classes('text-sm text-gray-700').mark(f'{marker}-status')
            self.error = ui.label().classes(theme.ERROR_TEXT).mark(f'{marker}-error')
            self.error.props['role'] = 'alert'
        self.set_visibility(False)
        self.manager: JobsClient | None = None
        self.started, self.steps = False, 0  # the worker has begun (its start event); optimizer steps done

    async def follow(
        self, manager: JobsClient, job: dict, on_event: Callable[[dict], None] | None = None
    ) -> dict | None:
        """Show `job` until it ends; return its end event. `on_event` also gets every event (a chart, a log)."""
        self.manager, self.job_id = manager, job['id']
        self.set_visibility(True)
        self.error.set_text('')
        self.bar.set_value(0)
        self.cancel_button.set_visibility(True)
        self.started, self.steps = False, 0
        self._status(job)
        end = None
        async for event in manager.subscribe(job['id']):
            if self.is_deleted:
                return None  # the page went away; the job goes on, its run folder keeps everything
            end = self._event(event) or end
            if on_event is not None:
                on_event(event)
        if end is None:  # the stream stopped without an end event: job.json still says how it ended
            final = manager.get(job['id'])
            end = {'type': 'end', **{k: final.get(k) for k in ('status', 'error', 'error_code', 'error_params')}}
            self._end(end)
        self.cancel_button.set_visibility(False)
        return end

    async def follow_from(self, button: ui.element, manager: JobsClient, job: dict) -> dict | None:
        """`follow`, with the `button` that started the job disabled until it ends (one job per button)."""
        with disabled(button):
            return await self.follow(manager, job)

    def _event(self, event: dict) -> dict | None:
        kind = event.get('type')
        if kind == 'status':
            self._status(event['job'])
        elif kind == 'start':
            self.started = True
            self._phase(self.tr('walk.run.phase.engine'))
        elif kind == 'log' and event.get('code') == 'log.phase':  # what a run does before its first numbers
            self._phase(self.tr.event_message(event))
        elif kind == 'progress':
            self._progress(event)
        elif kind == 'train' and event.get('max_iters'):
            self._iterations(event)
        elif kind == 'log' and event.get('level') == 'error':
            self.error.set_text(self.explain(event))
        elif kind == 'end':
            self._end(event)
            return event
        return None

    def _status(self, job: dict) -> None:
        status = job.get('status', 'queued')
        if status == 'queued' and job.get('queue_position'):
            self.status.set_text(self.tr('components.job.queued', n=job['queue_position']))
        elif status == 'running' and not self.started:  # the worker process is starting (python, the lab)
            self._phase(self.tr('walk.run.phase.process'))
        elif self.tr.has(f'components.job.{status}'):
            self.status.set_text(self.tr(f'components.job.{status}'))

    def _phase(self, what: str) -> None:
        """Before a job's first numbers: what it is doing now, with a bar that says "busy", not "0%"."""
        self.bar.props('indeterminate')
        self.status.set_text(what)

    def _progress(self, event: dict) -> None:
        done, total = event.get('done') or 0, event.get('total')
        if total:
            self.bar.set_value(min(1.0, done / total))
            self.bar.props(remove='indeterminate')
        else:
            self.bar.props('indeterminate')
        what = self.tr.coded(event.get('label_code'), event.get('label_params'), event.get('label'))
        what = what or self.tr('components.job.working')
        unit = self.tr.coded(f'progress.unit.{event.get("unit")}', None, event.get('unit', ''))
        amount = f'{done:,} / {total:,} {unit}' if total else f'{done:,} {unit}'
        self.status.set_text(f'{what}: {amount}')

    def _iterations(self, event: dict) -> None:
        """A training job's progress is its iteration count (train events carry iter and max_iters)."""
        done, total = int(event.get('iter') or 0) + 1, int(event['max_iters'])  # iter counts from 0: steps done
        self.steps = done
        self.bar.props(remove='indeterminate')
        self.bar.set_value(min(1.0, done / total) if total else 0)
        self.status.set_text(self.tr('components.job.iterations', done=f'{done:,}', total=f'{total:,}'))

    def _end(self, event: dict) -> None:
        status = event.get('status')
        self.bar.props(remove='indeterminate')
        if status == 'succeeded':
            self.bar.set_value(1.0)
        if status == 'cancelled' and self.steps:  # a stop is a stop: where it stopped, not an error
            self.status.set_text(self.tr('walk.run.stopped_at', n=f'{self.steps:,}'))
        else:
            self.status.set_text(self.tr(f'components.job.{status}') if status else '')
        if event.get('error') and status != 'cancelled':
            self.error.set_text(self.explain(event))

    def _cancel(self) -> None:
        if self.manager is None or self.job_id is None:
            return
        try:
            self.manager.cancel(self.job_id)
        except Exception as e:  # JobConflict: it ended meanwhile
            log.info('cancel %s: %s', self.job_id, e)
