"""Stage 5: fine-tuning — pick a pretrained base (a GPT-2 size, downloaded here, or one of your runs), fine-tune it
on new text with a small learning rate and early stopping, watch for overfitting, and compare before and after.

Simulation mode replays the recorded fine-tune (a small GPT-2-style model pretrained on the State of the Union,
fine-tuned on Shakespeare) and shows its measured comparison; real mode runs `download-weights` and `finetune`
jobs and measures the comparison here. URL parameters: base (gpt2…gpt2-xl or run:<id>), speed.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from nicegui import run, ui

from nanogpt_lab import workspace
from nanogpt_lab.config import FINETUNE_PRESET, PRETRAINED, ConfigError, TrainConfig
from nanogpt_lab.jobs.client import stop_job
from nanogpt_lab.model.pretrained import CONFIG_FILE
from nanogpt_lab.model.sizes import preset_sizes
from nanogpt_lab.ui import dataset_stats, theme
from nanogpt_lab.ui.components import run_sources
from nanogpt_lab.ui.components.before_after import before_after, measure
from nanogpt_lab.ui.components.config_form import config_form, defaults, fields
from nanogpt_lab.ui.components.deferred import deferred
from nanogpt_lab.ui.components.export_panel import export_panel, page_origin
from nanogpt_lab.ui.components.job_progress import job_progress, jobs_client
from nanogpt_lab.ui.components.loss_chart import Curves
from nanogpt_lab.ui.components.provenance import Provenance
from nanogpt_lab.ui.components.real_mode_panel import real_mode_panel
from nanogpt_lab.ui.components.section import note, section
from nanogpt_lab.ui.components.training_monitor import training_monitor
from nanogpt_lab.ui.view import View

FINETUNE_ASSET = 'finetune-shakespeare'  # the recorded fine-tune, with comparison.json
DOWNLOAD_BITS_PER_S = 100e6  # the same assumption as stage 1's download estimates: 100 Mbit/s
RUN = 'run:'

# Stage 5's form: what config/finetune_shakespeare.py sets, plus early stopping in view; the base fixes the shape.
FIELDS = fields(
    basic=('dataset', 'learning_rate', 'decay_lr', 'max_iters', 'eval_interval', 'early_stopping_patience',
           'batch_size', 'gradient_accumulation_steps', 'block_size', 'device'),
    more=('eval_iters', 'dropout', 'dtype', 'compile', 'eval_sample_tokens', 'seed'),
)  # fmt: skip


def create(view: View) -> None:
    """Fill stage 5's column."""
    FinetuningPage(view)


def download_estimate(params: int) -> tuple[float, float]:
    """(megabytes, seconds): float32 weights are 4 bytes a parameter; the time at DOWNLOAD_BITS_PER_S."""
    size = params * 4
    return size / 1e6, size * 8 / DOWNLOAD_BITS_PER_S


def weights_present(name: str) -> bool:
    """Whether gpt2* weights are in the workspace's weights/ (the loader verifies them before use)."""
    folder = workspace.weights_root() / name
    return (folder / CONFIG_FILE).is_file() and any(folder.glob('*.safetensors'))


class FinetuningPage:
    """Stage 5's widgets: the base, the settings, the run and its monitor, before and after."""

    def __init__(self, view: View) -> None:
        self.view, self.tr = view, view.tr
        self.manager = jobs_client()
        self.job: dict[str, Any] | None = None
        self.runs = [r for r in run_sources.past_runs(self.manager) if r.get('has_checkpoint')]
        bases = [*PRETRAINED, *(RUN + r['id'] for r in self.runs)]
        self.base = view.param('base', 'gpt2', bases)
        self.recorded = run_sources.recorded(FINETUNE_ASSET, self.tr)
        ui.label(self.tr('finetuning.intro')).classes(theme.HELP)
        self._base_section()
        self._settings_section()
        self._run_section()
        deferred(self._below_run)

    def _below_run(self) -> None:
        """Before and after, and the export panel (built after the first paint)."""
        self._compare_section()
        with section(self.tr('walk.export.title'), self.tr('walk.export.help'), marker='export-section'):
            self.export = export_panel(tr=self.tr, client=self.manager, base_url=page_origin(), real=self.view.real)

    # --- the base ---------------------------------------------------------------------------------------------------

    def _base_section(self) -> None:
        tr = self.tr
        with section(tr('finetuning.base.title'), tr('finetuning.base.help'), marker='base'):
            if not self.view.real:
                note(tr('finetuning.base.simulated'), marker='sim-base')
            with ui.element('div').classes('w-full grid grid-cols-1 md:grid-cols-2 xl:grid-cols-4 gap-4'):
                for row in preset_sizes():
                    self._size_card(row)
            self.download = job_progress(tr=tr, marker='download-job')
            if self.view.real:
                options = {RUN + r['id']: run_sources.run_label(r, tr) for r in self.runs}
                select = ui.select(
                    options,
                    label=tr('finetuning.base.runs'),
                    clearable=True,
                    value=self.base if self.base in options else None,
                    on_change=lambda e: e.value and self._use(e.value),
                )
                select.classes('min-w-[24rem]').mark('base-runs')
            self.base_label = ui.label().classes('text-sm font-medium').mark('base-chosen')

    def _size_card(self, row: dict[str, Any]) -> None:
        tr, name = self.tr, row['name']
        mb, seconds = download_estimate(row['params'])
        chosen = 'border-indigo-600 ring-2 ring-indigo-200' if name == self.base else ''
        with ui.card().classes(f'{theme.CARD} {chosen}').props('flat bordered').mark(f'base-{name}'):
            ui.label(tr(f'components.config.model.options.{name}')).classes(theme.CARD_TITLE)
            ui.label(
                tr('finetuning.base.facts', params=f'{row["params"]:,}', mb=f'{mb:,.0f}', minutes=f'{seconds / 60:.1f}')
            ).classes('text-sm').mark(f'base-{name}-facts')
            present = weights_present(name)
            ui.label(tr('finetuning.base.present' if present else 'finetuning.base.missing')).classes(theme.CAPTION)
            if self.view.real:
                with ui.row().classes('gap-2 mt-auto'):
                    if not present:
                        ui.button(
                            tr('finetuning.base.download'), icon='download', on_click=lambda: self._download(name)
                        ).props('outline dense no-caps').mark(f'download-{name}')
                    use = ui.button(tr('finetuning.base.use'), on_click=lambda: self._use(name))
                    use.props('unelevated dense no-caps').mark(f'use-{name}')
                    use.set_enabled(present)  # weights never downloaded cannot be a base: say why beside it
                if not present:
                    ui.label(tr('walk.run.use_needs_download')).classes(theme.CAPTION).mark(f'use-{name}-why')

    async def _download(self, name: str) -> None:
        """A download-weights job with its progress bar; the page reloads when the weights are in place."""
        if self.manager is None:
            return
        try:
            job = self.manager.submit('download-weights', {'model': name})
        except ValueError as e:
            ui.notify(self.tr('components.job.error', message=self.tr.error(e)), type='negative')
            return
        end = await self.download.follow(self.manager, job)
        if end and end.get('status') == 'succeeded' and not self.download.is_deleted:
            self._use(name)

    def _use(self, base: str) -> None:
        self.view.share(base=base)
        ui.navigate.to(self.view.url())  # the form's defaults follow the base: rebuild the page on it

    # --- settings ---------------------------------------------------------------------------------------------------

    def _settings_section(self) -> None:
        tr = self.tr
        with section(tr('finetuning.settings.title'), tr('finetuning.settings.help'), marker='settings'):
            note(tr('finetuning.settings.why'), marker='why-small-lr')
            values = {**defaults(FINETUNE_PRESET), **self._base_values()}
            datasets_here = [
                d for d in ('shakespeare', 'shakespeare_char') if not self.view.real or dataset_stats.workspace_dir(d)
            ]
            self.form = config_form(
                FIELDS,
                values,
                tr=tr,
                marker='ft-form',
                kind='finetune',
                base=FINETUNE_PRESET,
                datasets=datasets_here,
                extra_check=self._check if self.view.real else None,
                on_change=self._buttons,
            )
        self.base_label.set_text(tr('finetuning.base.chosen', base=self._base_name()))

    def _base_name(self) -> str:
        return self.tr('finetuning.base.run', run=self.base[len(RUN) :]) if self.base.startswith(RUN) else self.base

    def _base_values(self) -> dict[str, Any]:
        """init_from, plus what a run as base decides: its dataset (its tokenizer) and its context length."""
        if not self.base.startswith(RUN):
            return {'init_from': self.base}
        run_id = self.base[len(RUN) :]
        config = next((r.get('config') or {} for r in self.runs if r['id'] == run_id), {})
        out: dict[str, Any] = {'init_from': run_id}
        for key in ('dataset', 'block_size'):
            if config.get(key) is not None:
                out[key] = config[key]
        return out

    def _check(self, cfg: TrainConfig) -> ConfigError | None:
        if dataset_stats.workspace_dir(cfg.dataset) is None:
            return ConfigError('config.dataset_not_prepared', key='dataset', dataset=cfg.dataset)
        if cfg.init_from in PRETRAINED and not weights_present(cfg.init_from):
            return ConfigError('config.weights_not_downloaded', key='init_from', name=cfg.init_from)
        return None

    # --- the run ----------------------------------------------------------------------------------------------------

    def _run_section(self) -> None:
        tr = self.tr
        with section(tr('finetuning.run.title'), tr(f'finetuning.run.help_{self.view.mode}'), marker='ft-run'):
            with ui.row().classes('items-center gap-3'):
                self.speed = self.view.param('speed', '10', run_sources.REPLAY_SPEEDS)
                if not self.view.real:
                    speeds = {s: tr(f'pretraining.run.speed.{s}') for s in run_sources.REPLAY_SPEEDS}
                    toggle = ui.toggle(speeds, value=self.speed, on_change=lambda e: self._set_speed(e.value))
                    toggle.props('no-caps dense unelevated').mark('ft-speed')
                self.start = ui.button(tr('pretraining.run.start'), icon='play_arrow', on_click=self._start)
                self.start.props('unelevated no-caps').mark('ft-start')
                self.stop = ui.button(tr('pretraining.run.stop'), icon='stop', on_click=self._stop)
                self.stop.props('outline no-caps color=negative').mark('ft-stop')
                self.start_error = ui.label().classes(theme.ERROR_TEXT).mark('ft-start-error')
            if not self.view.real and self.recorded is None:
                note(tr('finetuning.run.not_recorded'), kind='warn', marker='ft-not-recorded')
            self.overfit = note(tr('finetuning.run.overfitting'), kind='warn', marker='overfitting')
            self.overfit.set_visibility(False)
            self.stopped = note('', marker='early-stop')
            self.stopped.set_visibility(False)
            self.panel_note = ui.label().classes(theme.CAPTION).mark('ft-last-run')
            provenance = (
                self.recorded.provenance
                if self.recorded and not self.view.real
                else Provenance.live(tr('pretraining.run.this_machine'), tr('pretraining.run.not_started'))
            )
            self.monitor = training_monitor(
                tr=tr,
                marker='ft-monitor',
                title=tr('finetuning.run.chart'),
                provenance=provenance,
                on_update=self._watch,
            )
            self.panel = real_mode_panel(tr=tr, marker='ft-panel', on_resume=self._resume)
        self._buttons()
        self._show_last_run()

    def _show_last_run(self) -> None:
        """Before a run, the chart is not empty: the latest fine-tune here (a reload brings it back), or in
        simulation mode the recorded fine-tune the Start button replays, as a ghost until it is replayed."""
        chart = self.monitor.chart
        if not self.view.real:
            if self.recorded is not None:
                name = self.tr('pretraining.run.ghost_name', name=FINETUNE_ASSET)
                chart.set_references([run_sources.ghost(FINETUNE_ASSET, name)])
                chart.set_span(int(self.recorded.config.get('max_iters') or 0) or None)
            return
        runs = [r for r in run_sources.past_runs(self.manager) if r.get('kind') == 'finetune']
        if not runs:
            return
        last = runs[0]  # newest first
        try:
            events = run_sources.past_events(self.manager, last['id'])
        except (LookupError, OSError):
            return
        device = (last.get('devices') or ['cpu'])[0]
        self.monitor.reset(Provenance.live(device, last['id']), device=device)
        for event in events:
            self.monitor.add(event)
        self.monitor.chart.redraw()
        status = self.tr.message(f'job.status.{last.get("status")}')
        self.panel_note.set_text(self.tr('walk.run.last_run', run=last['id'], status=status))

    def _set_speed(self, speed: str) -> None:
        self.speed = speed
        self.view.share(speed=speed)

    def _buttons(self) -> None:
        if not hasattr(self, 'start'):
            return
        running = self.job is not None
        ready = self.form.config is not None if self.view.real else self.recorded is not None
        self.start.set_enabled(ready and not running)
        self.stop.set_enabled(running)

    def _watch(self, curves: Curves) -> None:
        """The overfitting warning: val above its best for two evaluations while train keeps falling."""
        self.overfit.set_visibility(curves.overfitting())

    def _event(self, event: dict[str, Any]) -> None:
        self.monitor.add(event)
        # why it stopped early (recordings made before the codes get theirs when simulation.assets reads them)
        if event.get('type') == 'log' and str(event.get('code')).startswith('training.stop.'):
            self.stopped.set_visibility(True)
            self.stopped.clear()
            with self.stopped:
                ui.icon('flag').style(f'color: {theme.OK}')
                ui.label(self.tr('finetuning.run.stopped', reason=self.tr.event_message(event))).classes('text-sm')

    async def _start(self) -> None:
        if self.view.real:
            await self._run('finetune', self.form.request(), None)
        else:
            assert self.recorded is not None
            params = {'asset': FINETUNE_ASSET, 'speed': run_sources.replay_speed(self.speed)}
            await self._run('simulate', params, self.recorded.provenance)

    async def _resume(self, params: dict[str, Any]) -> None:
        """Continue a stopped fine-tune from its checkpoint, as it was configured."""
        await self._run('finetune', params, None)

    async def _run(self, kind: str, params: dict[str, Any], provenance: Provenance | None) -> None:
        if self.job is not None or self.manager is None:
            return
        try:
            job = self.manager.submit(kind, params)
        except ValueError as e:
            self.start_error.set_text(self.tr('components.job.error', message=self.tr.error(e)))
            return
        self.start_error.set_text('')
        self.panel_note.set_text('')
        self.job = job
        self._buttons()
        self.stopped.set_visibility(False)
        device = (job.get('devices') or ['cpu'])[0]
        dataset = (self.recorded.config if provenance else self.form.values).get('dataset', 'shakespeare')
        self.monitor.reset(
            provenance or Provenance.live(device, job['id']),
            device=device,
            start_loss=run_sources.start_loss(str(dataset), self.view.real, self.tr),
            speed=run_sources.speed_factor(self.speed) if provenance else 1.0,
        )
        self.monitor.chart.set_references([])
        max_iters = (self.recorded.config if provenance else self.form.values).get('max_iters')
        self.monitor.chart.set_span(int(max_iters) if max_iters else None)
        try:
            end = await self.panel.follow(self.manager, job, self._event)
        finally:
            self.job = None
            if not self.monitor.is_deleted:
                self.monitor.chart.redraw()
                self._buttons()
        if end and self.view.real and end.get('status') in ('succeeded', 'cancelled') and not self.compare.is_deleted:
            self._compare_options(select=job['id'])
            self.export.show(job['id'])  # the fine-tune just finished is the one to export

    def _stop(self) -> None:
        stop_job(self.manager, self.job)

    # --- before and after -------------------------------------------------------------------------------------------

    def _compare_section(self) -> None:
        tr = self.tr
        with section(tr('finetuning.compare.title'), tr('finetuning.compare.help'), marker='compare'):
            if self.view.real:
                with ui.row().classes('items-center gap-3 w-full'):
                    self.compare_select = ui.select({}, label=tr('finetuning.compare.run')).classes('min-w-[24rem]')
                    self.compare_select.mark('compare-run')
                    self.compare_button = ui.button(
                        tr('finetuning.compare.measure'), icon='compare_arrows', on_click=self._measure
                    ).props('outline no-caps')
                    self.compare_button.mark('compare-measure')
                self.compare_status = ui.label().classes(theme.CAPTION).mark('compare-status')
            self.compare = before_after(tr=tr, marker='before-after')
        if self.view.real:
            self._compare_options()
        else:
            self._recorded_comparison()

    def _recorded_comparison(self) -> None:
        try:
            from nanogpt_lab.simulation import assets

            comparison = assets.read_json(FINETUNE_ASSET, 'comparison.json')
        except (ImportError, ValueError, OSError):
            with self.compare:
                note(self.tr('finetuning.compare.not_recorded'), kind='warn', marker='compare-missing')
            return
        assert self.recorded is not None
        self.compare.show(comparison, self.recorded.provenance)

    def _compare_options(self, select: str | None = None) -> None:
        runs = [r for r in run_sources.past_runs(self.manager) if r.get('kind') == 'finetune' and r['has_checkpoint']]
        options = {r['id']: run_sources.run_label(r, self.tr) for r in runs}
        value = select if select in options else (next(iter(options), None))
        self.compare_select.set_options(options, value=value)
        self.compare_button.set_enabled(bool(options))

    async def _measure(self) -> None:
        """Score the chosen fine-tune and its base here (val loss, samples, surprise): minutes for GPT-2 on a CPU."""
        run_id = self.compare_select.value
        if not run_id or self.manager is None:
            return
        job = self.manager.get(run_id)
        config = job.get('config') or {}
        base, dataset = str(config.get('init_from')), str(config.get('dataset'))
        if base not in PRETRAINED and not Path(base).exists():  # a run id rather than its folder
            base = str(self.manager.run_dir(base))
        folder = dataset_stats.workspace_dir(dataset)
        if folder is None:
            self.compare_status.set_text(self.tr.message('config.dataset_not_prepared', {'dataset': dataset}))
            return
        self.compare_button.set_enabled(False)
        self.compare_status.set_text(self.tr('finetuning.compare.measuring'))
        try:
            comparison = await run.io_bound(measure, base, str(self.manager.run_dir(run_id)), folder)
        except Exception as e:  # a base that no longer loads, a tokenizer mismatch: say so here
            self.compare_status.set_text(self.tr('components.job.error', message=self.tr.error(e)))
            return
        finally:
            if not self.compare_button.is_deleted:
                self.compare_button.set_enabled(True)
        if comparison is None or self.compare.is_deleted:  # None: the lab is shutting down
            return
        self.compare_status.set_text('')
        device = (job.get('devices') or ['cpu'])[0]
        self.compare.show(comparison, Provenance.live(device, f'{Path(base).name} → {run_id}'))
