"""Stage 4: pretraining — the config (form and command), tokens per iteration, data parallelism, a run to watch,
why the lab's CPU recipe is faster, why GPT-2 moved the LayerNorm, and GPT-1 beside GPT-2 on the same text.

Simulation mode replays recorded runs as `simulate` jobs; real mode starts `train` jobs. Both stream the same
events into the same monitor, so a replay and a live run are drawn by one code path. URL parameters: asset (the
recorded run to replay), speed (1, 10, instant), gpus (the DDP explainer's N).
"""

from __future__ import annotations

import asyncio
from typing import Any

from nicegui import ui

from nanogpt_lab.config import ConfigError, TrainConfig
from nanogpt_lab.jobs.client import JobsClient, stop_job
from nanogpt_lab.ui import dataset_stats, theme
from nanogpt_lab.ui.components import run_sources
from nanogpt_lab.ui.components.chart_card import chart_card
from nanogpt_lab.ui.components.config_form import NEVER_SHOWN, TRAIN_FIELDS, config_form, defaults
from nanogpt_lab.ui.components.cpu_recipe import cpu_recipe
from nanogpt_lab.ui.components.ddp_explainer import ddp_explainer
from nanogpt_lab.ui.components.deferred import deferred
from nanogpt_lab.ui.components.export_panel import export_panel, page_origin
from nanogpt_lab.ui.components.gpt_pair import gpt_pair
from nanogpt_lab.ui.components.job_progress import job_progress, jobs_client
from nanogpt_lab.ui.components.loss_chart import OVERLAY_COLORS, Curves, Reference, curves_options, thin
from nanogpt_lab.ui.components.micro_batches import micro_batches
from nanogpt_lab.ui.components.provenance import Provenance
from nanogpt_lab.ui.components.real_mode_panel import real_mode_panel
from nanogpt_lab.ui.components.section import note, section
from nanogpt_lab.ui.components.training_monitor import training_monitor
from nanogpt_lab.ui.view import View

BASELINE = 'baby-char-2000'  # nanoGPT's README CPU command: the form's defaults and the default ghost
LN_PAIR = ('ln-pre-16-layers', 'ln-post-16-layers')
LN_COLORS = ('#0f766e', '#be123c')  # pre-LN teal, post-LN rose: never the train/val colours


def create(view: View) -> None:
    """Fill stage 4's column."""
    PretrainingPage(view)


def form_values() -> dict[str, Any]:
    """The form starts from the recorded baseline's config (nanoGPT's CPU command), made portable: any device."""
    base = run_sources.recorded_config(BASELINE)
    values = defaults({'dataset': 'shakespeare_char'})
    values.update({k: v for k, v in base.items() if k in TrainConfig.model_fields and k not in NEVER_SHOWN})
    return {**values, 'device': 'auto', 'threads': 0, 'out_dir': None, 'data_dir': None}


class PretrainingPage:
    """Stage 4's widgets: the form, the two explainers, the run and its monitor, pre-LN vs post-LN."""

    def __init__(self, view: View) -> None:
        self.view, self.tr = view, view.tr
        self.manager = jobs_client()
        self.job: dict[str, Any] | None = None
        self.recorded = {r.name: r for r in run_sources.recorded_runs(self.tr)}
        ui.label(self.tr('pretraining.intro')).classes(theme.HELP)
        with section(self.tr('pretraining.form.title'), self.tr('pretraining.form.help'), marker='config'):
            self.form = config_form(
                TRAIN_FIELDS,
                form_values(),
                tr=self.tr,
                marker='form',
                kind='train',
                datasets=self._datasets(),
                extra_check=self._prepared if view.real else None,
                on_change=self._form_changed,
            )
        with section(self.tr('pretraining.tokens.title'), self.tr('pretraining.tokens.help'), marker='tokens'):
            self.micro = micro_batches(tr=self.tr, marker='micro')
        gpus = view.int_param('gpus', 4, 1, 8)
        with section(self.tr('pretraining.ddp.title'), self.tr('pretraining.ddp.help'), marker='ddp'):
            ddp_explainer(tr=self.tr, marker='ddp', n=gpus, on_processes=self._processes)
        self.form.set_processes(gpus)
        self._form_changed()
        self._run_section()
        deferred(self._below_run)

    def _below_run(self) -> None:
        """The CPU recipe, pre-LN vs post-LN, the export panel and GPT-1 vs GPT-2 (built after the first paint)."""
        cpu_recipe(tr=self.tr)
        LnComparison(self.view, self.manager)
        with section(self.tr('walk.export.title'), self.tr('walk.export.help'), marker='export-section'):
            self.export = export_panel(tr=self.tr, client=self.manager, base_url=page_origin(), real=self.view.real)
        gpt_pair(self.view, self.manager)

    # --- the form and its explainers -------------------------------------------------------------------------------

    def _datasets(self) -> list[str]:
        """Simulation: the recorded datasets; real: what is prepared in this workspace's data/ folder."""
        if not self.view.real:
            return ['shakespeare_char', 'shakespeare']
        return [p.name for p in _data_folders() if dataset_stats.workspace_dir(p.name)] or ['shakespeare_char']

    def _prepared(self, cfg: TrainConfig) -> ConfigError | None:
        """Real mode trains on data prepared here: say so on the field before Start, not as a failed job after."""
        if dataset_stats.workspace_dir(cfg.dataset) is None:
            return ConfigError('config.dataset_not_prepared', key='dataset', dataset=cfg.dataset)
        return None

    def _form_changed(self) -> None:
        v = self.form.values
        self.micro.show(
            int(v.get('batch_size') or 1),
            int(v.get('block_size') or 1),
            int(v.get('gradient_accumulation_steps') or 1),
            self.form.nproc,
        )
        if hasattr(self, 'start'):
            self._buttons()
            self._span()

    def _processes(self, n: int) -> None:
        self.form.set_processes(n)
        self._form_changed()
        self.view.share(gpus=n)

    # --- the run ---------------------------------------------------------------------------------------------------

    def _run_section(self) -> None:
        tr = self.tr
        with section(tr('pretraining.run.title'), tr(f'pretraining.run.help_{self.view.mode}'), marker='run'):
            with ui.row().classes('items-end gap-3 w-full flex-wrap'):
                if not self.view.real:
                    self._replay_controls()
                self.start = ui.button(tr('pretraining.run.start'), icon='play_arrow', on_click=self._start)
                self.start.props('unelevated no-caps').mark('start')
                self.stop = ui.button(tr('pretraining.run.stop'), icon='stop', on_click=self._stop)
                self.stop.props('outline no-caps color=negative').mark('stop')
                self.start_error = ui.label().classes(theme.ERROR_TEXT).mark('start-error')
            self._reference_controls()
            rec = self.recorded.get(self.asset) if not self.view.real else None
            self.monitor = training_monitor(
                tr=tr,
                marker='monitor',
                title=tr('pretraining.run.chart'),
                provenance=self._idle_provenance(rec),
                start_loss=self._start_loss(rec),
                references=self._references(),
            )
            self.panel = real_mode_panel(tr=tr, marker='panel', on_resume=self._resume)
        self._buttons()
        self._span()

    def _replay_controls(self) -> None:
        tr = self.tr
        options = {name: r.title for name, r in self.recorded.items()}
        default = BASELINE if BASELINE in options else next(iter(options), '')
        self.asset = self.view.param('asset', default, options) if options else ''
        self.speed = self.view.param('speed', '10', run_sources.REPLAY_SPEEDS)
        if not options:
            note(tr('pretraining.run.none_recorded'), kind='warn', marker='none-recorded')
            return
        ui.select(
            options, value=self.asset, label=tr('pretraining.run.asset'), on_change=lambda e: self._set_asset(e.value)
        ).classes('min-w-[22rem]').mark('asset')
        speeds = {s: tr(f'pretraining.run.speed.{s}') for s in run_sources.REPLAY_SPEEDS}
        ui.toggle(speeds, value=self.speed, on_change=lambda e: self._set_speed(e.value)).props(
            'no-caps dense unelevated'
        ).mark('speed')

    def _set_asset(self, name: str) -> None:
        self.asset = name
        self.view.share(asset=name)
        self._span()

    def _span(self) -> None:
        """The chart's x axis spans the run about to start: the form's max_iters, or the recording's."""
        if not hasattr(self, 'monitor') or self.job is not None:
            return
        rec = self.recorded.get(self.asset) if not self.view.real else None
        max_iters = (rec.config if rec else self.form.values).get('max_iters')
        self.monitor.chart.set_span(int(max_iters) if isinstance(max_iters, (int, float)) and max_iters > 0 else None)

    def _set_speed(self, speed: str) -> None:
        self.speed = speed
        self.view.share(speed=speed)

    def _reference_controls(self) -> None:
        tr = self.tr
        ghosts = {name: r.title for name, r in self.recorded.items()}
        self.ghosts = [BASELINE] if BASELINE in ghosts else []
        with ui.row().classes('items-center gap-3 w-full flex-wrap'):
            ui.select(
                ghosts,
                multiple=True,
                value=self.ghosts,
                label=tr('pretraining.run.ghosts'),
                on_change=lambda e: self._set_ghosts(e.value),
            ).props('use-chips dense').classes('min-w-[20rem]').mark('ghosts')
            self.overlays: list[str] = []
            self.overlay_select = ui.select(
                {},
                multiple=True,
                value=[],
                label=tr('pretraining.run.past'),
                on_change=lambda e: self._set_overlays(e.value),
            )
            self.overlay_select.props('use-chips dense').classes('min-w-[20rem]').mark('past-runs')
            ui.label(tr('pretraining.run.ghost_help')).classes(theme.CAPTION)
        self._past_options()

    def _past_options(self) -> None:
        runs = run_sources.past_runs(self.manager)
        self.overlay_select.set_options(
            {r['id']: run_sources.run_label(r, self.tr) for r in runs},
            value=[i for i in self.overlays if any(r['id'] == i for r in runs)],
        )

    def _set_ghosts(self, names: list[str]) -> None:
        self.ghosts = list(names or [])
        self.monitor.chart.set_references(self._references())

    def _set_overlays(self, ids: list[str]) -> None:
        self.overlays = list(ids or [])
        self.monitor.chart.set_references(self._references())

    def _references(self) -> list[Reference]:
        tr = self.tr
        refs = [run_sources.ghost(n, tr('pretraining.run.ghost_name', name=n)) for n in self.ghosts]
        for i, run_id in enumerate(self.overlays):
            try:
                past = run_sources.past_curves(self.manager, run_id)
            except (LookupError, OSError):
                continue
            color = OVERLAY_COLORS[i % len(OVERLAY_COLORS)]
            refs.append(Reference(run_id, past.train, color, dashed=False, bits=past.train_bpc or None))
        return refs

    def _idle_provenance(self, rec: run_sources.Recorded | None) -> Provenance:
        if rec is not None:
            return rec.provenance
        return Provenance.live(self.tr('pretraining.run.this_machine'), self.tr('pretraining.run.not_started'))

    def _start_loss(self, rec: run_sources.Recorded | None) -> float | None:
        dataset = (rec.config if rec is not None else self.form.values).get('dataset', 'shakespeare_char')
        return run_sources.start_loss(str(dataset), self.view.real, self.tr)

    def _buttons(self) -> None:
        running = self.job is not None
        blocked = self.view.real and self.form.config is None
        self.start.set_enabled(not running and not blocked and (self.view.real or bool(self.recorded)))
        self.stop.set_enabled(running)

    async def _start(self) -> None:
        """Submit the run (a replay or a real training job) and stream it into the monitor until it ends."""
        await self._run(*self._request())

    async def _resume(self, params: dict[str, Any]) -> None:
        """Continue a stopped run from its checkpoint, in its own folder, drawn on the same chart."""
        await self._run('train', params, None)

    async def _run(self, kind: str, params: dict[str, Any], rec: run_sources.Recorded | None) -> None:
        if self.job is not None or self.manager is None:
            self.start_error.set_text('' if self.manager else self.tr('pretraining.no_server'))
            return
        try:
            job = self.manager.submit(kind, params)
        except ValueError as e:  # ConfigError: the key the job rejects
            self.start_error.set_text(self.tr('components.job.error', message=self.tr.error(e)))
            return
        self.start_error.set_text('')
        self.job = job
        self._buttons()
        device = rec.config.get('device', 'cpu') if rec else (job.get('devices') or ['cpu'])[0]
        provenance = rec.provenance if rec else Provenance.live(device, job['id'])
        speed = run_sources.speed_factor(self.speed) if rec else 1.0
        self.monitor.reset(provenance, start_loss=self._start_loss(rec), device=device, speed=speed)
        self._span_of(params, rec)
        try:
            await self.panel.follow(self.manager, job, self.monitor.add)
        finally:
            self.job = None
            if not self.monitor.is_deleted:
                self.monitor.chart.redraw()
                self._buttons()
                self._past_options()
                if self.view.real:
                    self.export.show(job['id'])  # the run just finished is the one to export

    def _span_of(self, params: dict[str, Any], rec: run_sources.Recorded | None) -> None:
        """The x axis of the run just started (a resume learns its length from its first train event)."""
        max_iters = (rec.config if rec else params).get('max_iters') or (
            None if rec else self.form.values.get('max_iters')
        )
        self.monitor.chart.set_span(int(max_iters) if max_iters else None)

    def _request(self) -> tuple[str, dict[str, Any], run_sources.Recorded | None]:
        if self.view.real:
            return 'train', self.form.request(), None
        return (
            'simulate',
            {'asset': self.asset, 'speed': run_sources.replay_speed(self.speed)},
            self.recorded[self.asset],
        )

    def _stop(self) -> None:
        stop_job(self.manager, self.job)


def _data_folders() -> list[Any]:
    from nanogpt_lab import workspace

    root = workspace.data_root()
    return sorted(p for p in root.iterdir() if p.is_dir()) if root.is_dir() else []


class LnComparison:
    """Pre-LN (GPT-2) vs post-LN (GPT-1) at 16 layers: loss and gradient norm side by side, recorded or run here."""

    def __init__(self, view: View, manager: JobsClient | None) -> None:
        self.view, self.tr, self.manager = view, view.tr, manager
        tr = self.tr
        self.runs = [run_sources.recorded(name, tr) for name in LN_PAIR]
        with section(tr('pretraining.ln.title'), tr('pretraining.ln.help'), marker='ln'):
            if None in self.runs:
                note(tr('pretraining.ln.missing'), kind='warn', marker='ln-missing')
                return
            self.curves = [run_sources.recorded_curves(name) for name in LN_PAIR]
            self.provenance = _joined([r.provenance for r in self.runs])
            with ui.element('div').classes(theme.GRID_2):
                self.loss = self._card('loss')
                self.grad = self._card('grad')
            self._controls()
            ui.label(tr('pretraining.ln.why')).classes(theme.HELP)
        self.timer = ui.timer(0.5, self._redraw, active=False)

    def _card(self, what: str) -> chart_card:
        tr = self.tr
        options, rows, summary = self._chart(what)
        columns = [
            ('iter', tr('components.loss.iterations')),
            ('pre', tr('pretraining.ln.pre')),
            ('post', tr('pretraining.ln.post')),
        ]
        return chart_card(
            tr(f'pretraining.ln.{what}'),
            options,
            provenance=self.provenance,
            summary=summary,
            columns=columns,
            rows=rows,
            tr=tr,
            marker=f'ln-{what}',
        )

    def _chart(self, what: str) -> tuple[dict[str, Any], list[dict[str, Any]], str]:
        tr = self.tr
        pick = (lambda c: c.train) if what == 'loss' else (lambda c: c.grad_norm)
        series = [
            (tr(f'pretraining.ln.{pos}'), pick(c), color)
            for pos, c, color in zip(('pre', 'post'), self.curves, LN_COLORS, strict=True)
        ]
        options = curves_options(
            series,
            x_name=tr('components.loss.iterations'),
            y_name=tr(f'pretraining.ln.{what}_axis'),
            log_scale=what == 'grad',
        )
        pre, post = (dict((int(p[0]), round(p[1], 4)) for p in thin(pick(c), 60)) for c in self.curves)
        rows = [{'iter': i, 'pre': pre.get(i), 'post': post.get(i)} for i in sorted(set(pre) | set(post))]
        last = [pick(c)[-1][1] if pick(c) else float('nan') for c in self.curves]
        summary = tr(f'pretraining.ln.{what}_summary', pre=f'{last[0]:.3f}', post=f'{last[1]:.3f}')
        return options, rows, summary

    def _controls(self) -> None:
        tr = self.tr
        with ui.row().classes('items-center gap-3 w-full flex-wrap'):
            label = tr('pretraining.ln.run_here') if self.view.real else tr('pretraining.ln.replay')
            self.button = ui.button(label, icon='replay', on_click=self._run).props('outline no-caps').mark('ln-run')
            if self.view.real:
                self.iters = ui.number(tr('pretraining.ln.iters'), value=300, min=10, max=1000, step=10)
                self.iters.props('dense outlined').classes('w-40').mark('ln-iters')
        self.bars = [job_progress(tr=tr, marker=f'ln-job-{pos}') for pos in ('pre', 'post')]

    async def _run(self) -> None:
        """Replay both recordings (or train both here) at once, drawing them into the same two charts."""
        if self.manager is None:
            return
        requests = [self._request(r) for r in self.runs]
        try:
            jobs = [self.manager.submit(kind, params) for kind, params in requests]
        except ValueError as e:
            ui.notify(self.tr('components.job.error', message=self.tr.error(e)), type='negative')
            return
        self.curves = [Curves(), Curves()]
        if self.view.real:
            self.provenance = Provenance.live(
                ', '.join(jobs[0].get('devices') or ['cpu']), ' + '.join(j['id'] for j in jobs)
            )
        self.button.set_enabled(False)
        self.timer.active = True
        try:
            await asyncio.gather(
                *(
                    bar.follow(self.manager, job, curves.add)
                    for bar, job, curves in zip(self.bars, jobs, self.curves, strict=True)
                )
            )
        finally:
            self.timer.active = False
            if not self.button.is_deleted:
                self._redraw()
                self.button.set_enabled(True)

    def _request(self, rec: run_sources.Recorded | None) -> tuple[str, dict[str, Any]]:
        assert rec is not None
        if not self.view.real:
            return 'simulate', {'asset': rec.name, 'speed': 10}
        keep = {k: v for k, v in rec.config.items() if k in TrainConfig.model_fields and k not in NEVER_SHOWN}
        iters = int(self.iters.value or 300)
        return 'train', {**keep, 'max_iters': iters, 'lr_decay_iters': iters, 'device': 'auto', 'threads': 0}

    def _redraw(self) -> None:
        for card, what in ((self.loss, 'loss'), (self.grad, 'grad')):
            options, rows, summary = self._chart(what)
            card.set_data(options, rows=rows, summary=summary, provenance=self.provenance)


def _joined(provenances: list[Provenance]) -> Provenance:
    """One label for a chart drawn from several recordings."""
    return Provenance(
        provenances[0].kind,
        ' + '.join(p.source for p in provenances),
        ' · '.join(p.detail for p in provenances if p.detail),
    )
