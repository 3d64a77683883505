"""Stage 7: alignment — from a text predictor to an assistant. What SFT trains (the x-ray of a conversation: trained
and masked tokens, each token's surprise before and after), how well it answers (exact match per task kind, before
and after), SFT itself (live or replayed), and a real chat with a chat model, where "Teach it" collects the
learner's preference pairs and "Train on my choices" starts a DPO run on them; then the report card of the chosen
model's lineage (base → SFT → DPO) with its before-and-after answers (components/report_card.py).

Simulation mode shows the recorded SFT of the bundled tiny model on lab-tasks (`chat-lab-tasks`: curves, x-ray,
accuracies), chats with that bundled chat model and shows the recorded DPO run's report card; real mode runs
`prepare-conversations`, `sft`, `eval`, `dpo` and `report` jobs (its dataset cards prepare lab-tasks, an uploaded
JSONL or a named Hugging Face dataset) and chats with any run that has a chat template. URL parameters: model
(bundled-chat or run:<id>), dataset (real mode's SFT data).
"""

from __future__ import annotations

import asyncio
from typing import Any

from nicegui import background_tasks, run, ui

from nanogpt_lab.config import SFT_PRESET, ConfigError, TrainConfig
from nanogpt_lab.errors import LabError
from nanogpt_lab.inference.catalog import BUNDLED_CHAT, BUNDLED_NAME
from nanogpt_lab.jobs.client import stop_job
from nanogpt_lab.ui import theme
from nanogpt_lab.ui.components import run_sources
from nanogpt_lab.ui.components.chat_box import chat_box
from nanogpt_lab.ui.components.chat_session import (
    ChatSession,
    chat_label,
    chat_model_ids,
    conversation_datasets,
    dpo_request,
)
from nanogpt_lab.ui.components.config_form import config_form, defaults, fields
from nanogpt_lab.ui.components.conversation_cards import conversation_cards, conversation_facts
from nanogpt_lab.ui.components.deferred import deferred
from nanogpt_lab.ui.components.export_panel import export_panel, page_origin
from nanogpt_lab.ui.components.job_progress import disabled, job_progress, jobs_client
from nanogpt_lab.ui.components.preference_watch import preference_watch
from nanogpt_lab.ui.components.provenance import Provenance
from nanogpt_lab.ui.components.real_mode_panel import real_mode_panel
from nanogpt_lab.ui.components.report_card import RECORDED, report_card
from nanogpt_lab.ui.components.sampler_session import BUNDLED
from nanogpt_lab.ui.components.section import note, section
from nanogpt_lab.ui.components.task_accuracy import kind_label, task_accuracy
from nanogpt_lab.ui.components.training_monitor import training_monitor
from nanogpt_lab.ui.components.xray_view import turn_editor, xray_view
from nanogpt_lab.ui.view import View

CHAT_ASSET = 'chat-lab-tasks'  # the recorded SFT: events, xray.json, accuracies (provenance), the bundled chat model
LAB_TASKS = 'lab-tasks'
RUN = 'run:'

# Stage 7's SFT form: what the SFT preset sets, in view; the base fixes the model's shape, context and vocabulary.
FIELDS = fields(
    basic=('dataset', 'learning_rate', 'max_iters', 'eval_interval', 'early_stopping_patience', 'batch_size',
           'device'),
    more=('warmup_iters', 'min_lr', 'eval_iters', 'gradient_accumulation_steps', 'dropout', 'dtype', 'compile',
          'seed'),
)  # fmt: skip


def create(view: View) -> None:
    """Fill stage 7's column."""
    AlignmentPage(view)


class AlignmentPage:
    """Stage 7's widgets: x-ray, accuracy, SFT, chat (with Teach it and Train on my choices)."""

    def __init__(self, view: View) -> None:
        self.view, self.tr = view, view.tr
        self.manager = jobs_client()
        self.job: dict[str, Any] | None = None
        self.all_runs = [r for r in (self.manager.runs() if self.manager else []) if not r.get('simulated')]
        self.models = chat_model_ids(view.real, self.all_runs)
        self.model_id = view.param('model', BUNDLED_CHAT, self.models)
        self.session = ChatSession(self.model_id)
        self.loading: Any = None
        self.recording = _recording(self.tr)
        ui.label(self.tr('alignment.intro')).classes(theme.HELP)
        if self.recording is None:
            note(self.tr('alignment.not_recorded'), kind='warn', marker='align-not-recorded')
        self._xray_section()
        self._accuracy_section()
        self._train_section()
        self._chat_section()
        deferred(self._below_chat)

    def _below_chat(self) -> None:
        """The report card and the export panel (built after the first paint)."""
        self._report_section()
        with section(self.tr('walk.export.title'), self.tr('walk.export.help'), marker='export-section'):
            self.export = export_panel(
                tr=self.tr, client=self.manager, base_url=page_origin(), real=self.view.real, kinds=('sft', 'dpo'),
                bundled=BUNDLED_CHAT,
            )  # fmt: skip

    # --- the chat model ---------------------------------------------------------------------------------------------

    async def ready(self) -> bool:
        """Load the chat model once (in a worker); False, with the reason shown, when it cannot be loaded."""
        if self.session.loaded is not None:
            return True
        if self.loading is None:
            self.loading = asyncio.ensure_future(run.io_bound(self.session.load))
        try:
            await self.loading
        except Exception as e:  # a model without a template, a vanished run: said where the learner looks
            self.loading = None
            self.chat.status.set_text(self.tr('alignment.chat.no_model', message=self.tr.error(e)))
            self.chat.status.classes(replace=theme.ERROR_TEXT)
            return False
        return self.session.loaded is not None

    def _provenance_live(self) -> Provenance:
        device = str(self.session.loaded.device) if self.session.loaded else 'cpu'
        return Provenance.live(device, chat_label(self.model_id, self.tr))

    # --- x-ray --------------------------------------------------------------------------------------------------------

    def _xray_section(self) -> None:
        tr = self.tr
        with section(tr('alignment.xray.title'), tr('alignment.xray.help'), marker='xray-section'):
            recorded = self.recording['xray'] if self.recording else []
            if recorded:
                kinds = {i: kind_label(x.get('kind') or 'conversation', tr) for i, x in enumerate(recorded)}
                pick = ui.toggle(kinds, value=0, on_change=lambda e: self._recorded_xray(e.value))
                pick.props('no-caps dense unelevated').mark('xray-kind')
            with ui.element('div').classes(f'{theme.GRID_2} w-full'):
                self.turns = turn_editor(tr=tr, on_change=lambda m: background_tasks.create(self._edited(m)))
                self.xray = xray_view(tr=tr)
        if recorded:
            self._recorded_xray(0)
        else:
            self.turns.set([{'role': 'user', 'content': 'Spell cat.'}, {'role': 'assistant', 'content': 'c a t'}])
            self.xray.waiting(tr('alignment.xray.edit_to_draw'))

    def _recorded_xray(self, index: int) -> None:
        assert self.recording is not None
        xray = self.recording['xray'][index]
        self.turns.set(xray['messages'])
        self.xray.show({**xray, 'base': BUNDLED_NAME}, self.recording['provenance'])

    async def _edited(self, messages: list[dict[str, str]]) -> None:
        """Redraw the x-ray for the edited turns, measured here with the chat model and its base."""
        self.xray.waiting(self.tr('alignment.xray.measuring'))
        if not await self.ready():
            self.xray.waiting(self.chat.status.text, error=True)
            return
        try:
            xray = await run.io_bound(self.session.xray, messages)
        except (LabError, ValueError) as e:  # roles out of order, an empty answer, a character it cannot read
            self.xray.waiting(self.tr.error(e), error=True)
            return
        if xray is not None and not self.xray.is_deleted:
            self.xray.show(xray, self._provenance_live())

    # --- accuracy -----------------------------------------------------------------------------------------------------

    def _accuracy_section(self) -> None:
        tr = self.tr
        with section(tr('alignment.accuracy.title'), tr('alignment.accuracy.help'), marker='accuracy-section'):
            provenance = self.recording['provenance'] if self.recording else Provenance.live('cpu', '—')
            self.accuracy = task_accuracy(tr=tr, provenance=provenance)
            if self.view.real:
                with ui.row().classes('items-center gap-3'):
                    self.measure = ui.button(tr('alignment.accuracy.measure'), icon='fact_check', on_click=self._eval)
                    self.measure.props('outline no-caps').mark('accuracy-measure')
                    self.measure.set_enabled(self.model_id.startswith(RUN))
                    ui.label(tr('alignment.accuracy.measure_help')).classes(theme.CAPTION)
                self.eval_progress = job_progress(tr=tr, marker='eval-job')
        if self.model_id.startswith(RUN):
            self._show_report()
        elif self.recording:
            self.accuracy.show(self.recording['accuracy'], self.recording['provenance'])

    def _show_report(self) -> None:
        """The chosen run's report.json (from `eval`), if it has been measured."""
        from nanogpt_lab.ui.components.chat_session import run_report

        report = run_report(self.model_id)
        if report is None:
            self.accuracy.headline.set_text(self.tr('alignment.accuracy.not_measured'))
            return
        results, device = report
        self.accuracy.show(results, Provenance.live(device, chat_label(self.model_id, self.tr)))

    async def _eval(self) -> None:
        """An `eval` job on the chosen run: held-out exact match per kind, written to its report.json."""
        if self.manager is None or not self.model_id.startswith(RUN):
            return
        try:
            job = self.manager.submit('eval', {'out_dir': self.model_id.removeprefix(RUN)})
        except ValueError as e:
            ui.notify(self.tr('components.job.error', message=self.tr.error(e)), type='negative')
            return
        end = await self.eval_progress.follow_from(self.measure, self.manager, job)
        if end and end.get('status') == 'succeeded' and not self.accuracy.is_deleted:
            self._show_report()

    # --- SFT ----------------------------------------------------------------------------------------------------------

    def _train_section(self) -> None:
        tr = self.tr
        with section(tr('alignment.train.title'), tr(f'alignment.train.help_{self.view.mode}'), marker='sft-section'):
            if self.view.real:
                self._real_form()
            with ui.row().classes('items-center gap-3'):
                self.start = ui.button(tr('pretraining.run.start'), icon='play_arrow', on_click=self._start)
                self.start.props('unelevated no-caps').mark('sft-start')
                self.stop = ui.button(tr('pretraining.run.stop'), icon='stop', on_click=self._stop)
                self.stop.props('outline no-caps color=negative').mark('sft-stop')
                self.start_error = ui.label().classes(theme.ERROR_TEXT).mark('sft-start-error')
            provenance = (
                self.recording['provenance']
                if self.recording and not self.view.real
                else Provenance.live(tr('pretraining.run.this_machine'), tr('pretraining.run.not_started'))
            )
            self.monitor = training_monitor(
                tr=tr, marker='sft-monitor', title=tr('alignment.train.chart'), provenance=provenance
            )
            self.panel = real_mode_panel(tr=tr, marker='sft-panel', on_resume=self._resume)
        if self.recording and not self.view.real:
            name = tr('pretraining.run.ghost_name', name=CHAT_ASSET)
            self.monitor.chart.set_references([run_sources.ghost(CHAT_ASSET, name)])
        self._buttons()

    def _real_form(self) -> None:
        tr = self.tr
        bases = {BUNDLED: tr('inference.model.bundled')}
        bases |= {r['id']: run_sources.run_label(r, tr) for r in self.all_runs if r.get('has_checkpoint')}
        datasets = conversation_datasets()
        ui.label(tr('alignment.data.title')).classes(theme.CARD_TITLE)
        conversation_cards(tr=tr, manager=self.manager, on_prepared=self._prepared)
        with ui.row().classes('w-full items-center gap-3'):
            self.base = ui.select(bases, value=BUNDLED, label=tr('alignment.train.base'))
            self.base.classes('min-w-[20rem]').mark('sft-base')
            self.base.on_value_change(lambda e: self.form.set_value('init_from', e.value))
        self.facts = conversation_facts(tr=tr, on_measured=self._measured)
        dataset = self.view.param('dataset', LAB_TASKS, datasets)
        values = {**defaults(SFT_PRESET), 'init_from': BUNDLED, 'dataset': dataset}
        self.form = config_form(
            FIELDS,
            values,
            tr=tr,
            marker='sft-form',
            kind='sft',
            base=SFT_PRESET,
            datasets=datasets,
            extra_check=self._check,
            on_change=self._changed,
        )
        background_tasks.create(self.facts.show(dataset, BUNDLED))

    def _check(self, cfg: TrainConfig) -> ConfigError | None:
        """A dataset not prepared here, or one in which nothing fits the base (measured by the facts above)."""
        if cfg.dataset not in conversation_datasets():
            return ConfigError('config.dataset_not_prepared', key='dataset', dataset=cfg.dataset)
        refused = self.facts.refused.get((cfg.dataset, str(self.base.value)))
        return ConfigError(refused.code, **{'key': 'dataset', **refused.params}) if refused else None

    def _changed(self) -> None:
        """A value of the form changed: the buttons, and the facts of the dataset and base now chosen."""
        self._buttons()
        dataset, base = str(self.form.values.get('dataset')), str(self.base.value)
        if (dataset, base) != self.facts.key:
            self.view.share(dataset=dataset)
            background_tasks.create(self.facts.show(dataset, base))

    def _prepared(self, name: str) -> None:
        """A card prepared `name` (perhaps again, from another file): the form takes it and its facts are redrawn."""
        self.facts.reset()
        self.form.offer_dataset(name)

    def _measured(self) -> None:
        """The facts measured the tokens: a set in which nothing fits is refused by the form now."""
        self.form.validate()
        self._buttons()

    def _buttons(self) -> None:
        if not hasattr(self, 'start'):
            return
        ready = self.form.config is not None if self.view.real else self.recording is not None
        self.start.set_enabled(ready and self.job is None)
        self.stop.set_enabled(self.job is not None)

    async def _start(self) -> None:
        if self.view.real:
            await self._run('sft', self.form.request())
        else:
            await self._run('simulate', {'asset': CHAT_ASSET, 'speed': 10})

    async def _resume(self, params: dict[str, Any]) -> None:
        await self._run('sft', params)

    async def _run(self, kind: str, params: dict[str, Any]) -> None:
        if self.job is not None or self.manager is None:
            return
        try:
            job = self.manager.submit(kind, params)
        except ValueError as e:
            self.start_error.set_text(self.tr('components.job.error', message=self.tr.error(e)))
            return
        self.start_error.set_text('')
        self.job = job
        self._buttons()
        simulated = kind == 'simulate'
        device = (job.get('devices') or ['cpu'])[0]
        assert not simulated or self.recording is not None
        provenance = self.recording['provenance'] if simulated else Provenance.live(device, job['id'])
        self.monitor.reset(provenance, device=device, speed=10.0 if simulated else 1.0)
        self.monitor.chart.set_references([])
        config = self.recording['config'] if simulated else self.form.values
        self.monitor.chart.set_span(int(config['max_iters']) if config.get('max_iters') else None)
        try:
            end = await self.panel.follow(self.manager, job, self.monitor.add)
        finally:
            self.job = None
            if not self.monitor.is_deleted:
                self.monitor.chart.redraw()
                self._buttons()
        if end and not simulated and end.get('status') in ('succeeded', 'cancelled') and not self.panel.is_deleted:
            self.export.show(job['id'])  # the SFT run just finished is the one to export
            with self.panel:
                ui.link(
                    self.tr('alignment.train.chat_with', run=job['id']), self.view.url_with(model=RUN + job['id'])
                ).mark('sft-chat-link')

    def _stop(self) -> None:
        stop_job(self.manager, self.job)

    # --- chat, Teach it, Train on my choices --------------------------------------------------------------------------

    def _chat_section(self) -> None:
        tr = self.tr
        with section(tr('alignment.chat.title'), tr('alignment.chat.help'), marker='chat-section'):
            options = {m: chat_label(m, tr) for m in self.models}
            picker = ui.select(options, value=self.model_id, label=tr('alignment.chat.picker'))
            picker.on_value_change(lambda e: self._pick_model(e.value))
            picker.classes('min-w-[20rem]').mark('chat7-model')
            if not self.view.real:
                note(tr('alignment.chat.simulated'), marker='chat7-simulated')
            recorded = None if self.view.real else _dpo_recording(tr)  # simulation mode: the recorded DPO run
            with ui.row().classes('w-full items-center gap-3') as self.dpo_row:
                self.dpo_button = ui.button(tr('alignment.dpo.start'), icon='model_training', on_click=self._dpo)
                self.dpo_button.props('outline no-caps').mark('dpo-start')
                self.replay = ui.button(tr('alignment.dpo.replay'), icon='replay', on_click=self._replay)
                self.replay.props('outline no-caps').mark('dpo-replay').set_visibility(recorded is not None)
                self.dpo_note = ui.label().classes(theme.CAPTION).mark('dpo-note')
            self.dpo_progress = real_mode_panel(tr=tr, marker='dpo-panel')
            self.dpo_watch = preference_watch(tr=tr, marker='dpo-watch')
            if recorded is not None:  # drawn at once, replayable at 10x
                self.dpo_watch.show(*recorded)
            self.chat = chat_box(tr=tr, session=self.session, ready=self.ready, on_picks=self._picks_changed)

    def _pick_model(self, model_id: str) -> None:
        self.view.share(model=model_id)
        ui.navigate.to(self.view.url())  # the x-ray, accuracy and chat all follow the model: rebuild on it

    def _picks_changed(self, name: str, count: int) -> None:
        """'Train on my choices' is offered in real mode, once there are picks to train on."""
        if not self.view.real:
            self.dpo_button.set_enabled(False)
            self.dpo_note.set_text(self.tr('alignment.dpo.real_only'))
        elif count == 0:
            self.dpo_button.set_enabled(False)
            self.dpo_note.set_text(self.tr('alignment.dpo.no_picks', name=name))
        else:
            self.dpo_button.set_enabled(self.manager is not None)
            self.dpo_note.set_text(self.tr('alignment.dpo.ready', n=count, name=name))

    async def _dpo(self) -> None:
        """A DPO job from the chat's model on the picks collected here; its margin and accuracy stream in below."""
        await self._watch('dpo', dpo_request(self.model_id, self.chat.picks))

    async def _replay(self) -> None:
        """Simulation mode: the recorded DPO run replayed at 10x through a simulate job, as the SFT curve is."""
        await self._watch('simulate', {'asset': RECORDED, 'speed': 10}, self.dpo_watch.provenance)

    async def _watch(self, kind: str, params: dict[str, Any], provenance: Provenance | None = None) -> None:
        """Start a dpo (or simulate) job and draw its events in Watch it; a refusal is said beside the button."""
        if self.manager is None:
            return
        try:
            job = self.manager.submit(kind, params)
        except ValueError as e:  # no picks yet, a model without a template, a bad beta: said beside the button
            self.dpo_note.set_text(self.tr('components.job.error', message=self.tr.error(e)))
            self.dpo_note.classes(replace=theme.ERROR_TEXT)
            return
        self.dpo_watch.reset(provenance or Provenance.live((job.get('devices') or ['cpu'])[0], job['id']))
        with disabled(self.dpo_button, self.replay):
            end = await self.dpo_progress.follow(self.manager, job, self.dpo_watch.add)
        if kind != 'dpo' or self.dpo_progress.is_deleted:
            return
        if end and end.get('status') in ('succeeded', 'cancelled'):
            self.export.show(job['id'])
            with self.dpo_progress:
                ui.link(
                    self.tr('alignment.train.chat_with', run=job['id']), self.view.url_with(model=RUN + job['id'])
                ).mark('dpo-chat-link')

    # --- the report card ------------------------------------------------------------------------------------------

    def _report_section(self) -> None:
        """The chosen run's report card (real mode) or the recorded DPO run's (simulation), with before and after."""
        tr = self.tr
        with section(tr('alignment.report.title'), tr('alignment.report.help'), marker='report-section'):
            run = self.model_id.removeprefix(RUN) if self.model_id.startswith(RUN) else None
            self.report = report_card(tr=tr, client=self.manager, real=self.view.real, run=run)


def _recording(tr: Any) -> dict[str, Any] | None:
    """The recorded SFT (chat-lab-tasks): its x-ray, accuracies, config and provenance; None when not recorded."""
    try:
        from nanogpt_lab.simulation import assets

        info = assets.get_asset(CHAT_ASSET)
        prov = assets.load_provenance(CHAT_ASSET)
        xray = assets.read_json(CHAT_ASSET, prov['xray'])
    except (ImportError, ValueError, OSError, KeyError, LabError):
        return None
    accuracy = prov.get('accuracy') or {}
    return {
        'xray': xray,
        'accuracy': {'base': accuracy.get('base'), 'sft': accuracy.get('sft')},
        'config': prov.get('config') or {},
        'provenance': Provenance.asset(CHAT_ASSET, info.date, tr),
    }


def _dpo_recording(tr: Any) -> tuple[list[dict[str, Any]], Provenance] | None:
    """The recorded DPO run's train events and provenance (dpo-lab-tasks); None when not recorded."""
    try:
        from nanogpt_lab.simulation import assets

        info = assets.get_asset(RECORDED)
        return assets.load_events(RECORDED, ('train',)), Provenance.asset(RECORDED, info.date, tr)
    except (ImportError, ValueError, OSError, KeyError, LabError):
        return None
