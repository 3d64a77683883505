"""Stage 7's dataset cards: the conversations an SFT run can learn from — the lab's own tasks, a JSONL file of the
learner's, and the named Hugging Face datasets (with their licence) — and what SFT would train on in the one chosen.

Each card prepares through a `prepare-conversations` job followed live (`job_progress`). The file goes through the
same upload as stage 1's own-text card (`named_upload`: the server's route, its size limit, a checked name, never
outside the workspace); a refusal is said in stage 1's words (`dataset_card.refusal`), a failed preparation in the
engine's own message (a file without one usable line lists the first bad lines with their numbers). What a file's
preparation skipped stays in its conversations.json, so `conversation_facts` lists it, with the shape found and the
statistics: counted from the conversations, then tokenized for the chosen base (`alignment.sft.data_stats`, in a
worker: it packs the folder the SFT run reuses, and refuses a set in which nothing fits, as the run would).
"""

from __future__ import annotations

import re
from collections.abc import Callable
from typing import Any

from nicegui import run, ui

from nanogpt_lab import workspace
from nanogpt_lab.alignment.conversations import MANIFEST_FILE, NAMED_DATASETS, STATS_FILE
from nanogpt_lab.alignment.lab_tasks import LAB_TASKS
from nanogpt_lab.alignment.prepare import hub_name
from nanogpt_lab.data.download import hf_offline
from nanogpt_lab.errors import LabError
from nanogpt_lab.fileio import read_json_object
from nanogpt_lab.jobs.client import JobsClient
from nanogpt_lab.ui import theme
from nanogpt_lab.ui.components.dataset_card import event_error, headline, refusal
from nanogpt_lab.ui.components.file_upload import named_upload
from nanogpt_lab.ui.components.job_progress import job_progress
from nanogpt_lab.ui.components.sampler_session import BUNDLED
from nanogpt_lab.ui.components.section import stat
from nanogpt_lab.ui.i18n import Translator

UPLOAD = 'upload'
SHOWN_PROBLEMS = 10  # skipped lines listed under the statistics (conversations.json keeps 50, counts them all)
# an engine error's code -> the alignment.data.errors.<kind> line that says what to do about it on this page
HEADLINES = {
    'alignment_engine.no_conversations': 'no_conversations',
    'alignment_engine.hf_unavailable': 'offline',
    'alignment_engine.no_datasets': 'offline',
    'alignment_engine.name_taken': 'name_taken',
}


class conversation_cards(ui.element):  # noqa: N801 - a NiceGUI component
    """lab-tasks, your own JSONL, then one card per named dataset. `on_prepared(name)` hears a job that succeeded."""

    def __init__(self, *, tr: Translator, manager: JobsClient | None, on_prepared: Callable[[str], None]) -> None:
        super().__init__('div')
        self.tr, self.manager, self.on_prepared = tr, manager, on_prepared
        self.progress: dict[str, job_progress] = {}  # per card (by marker): its job, and what it says
        self.results: dict[str, ui.label] = {}
        self.classes('w-full grid grid-cols-1 md:grid-cols-2 xl:grid-cols-4 gap-4').mark('conv-cards')
        with self:
            self._card(LAB_TASKS, tr('alignment.data.lab_tasks.title'), tr('alignment.data.lab_tasks.about'))
            self._card(UPLOAD, tr('alignment.data.upload.title'), tr('alignment.data.upload.about'))
            for dataset in NAMED_DATASETS:
                self._card(dataset, dataset, tr('alignment.data.hub.about'))

    def _card(self, key: str, title: str, about: str) -> None:
        tr, marker = self.tr, f'conv-card-{_slug(key)}'
        with ui.card().classes(theme.CARD).props('flat bordered').mark(marker):
            ui.label(title).classes(theme.CARD_TITLE)
            ui.label(about).classes(theme.CAPTION)
            if key == UPLOAD:
                self._upload(marker)
            else:
                self._prepare_button(key, marker)
            self.progress[marker] = job_progress(tr=tr, marker=f'{marker}-job', explain=self._explain)
            self.results[marker] = ui.label().classes('text-sm').mark(f'{marker}-result')

    def _upload(self, marker: str) -> None:
        """The three shapes, and the file: named (prefilled from its name), sent, then prepared under that name."""
        tr = self.tr
        shapes = ui.label(tr('alignment.data.upload.shapes')).classes('text-xs font-mono text-gray-600')
        shapes.props('translate=no')  # JSON, not words
        upload = named_upload(
            tr=tr, marker='conv-upload', prefix='conv-upload', taken=_taken,
            on_picked=lambda: self._say(marker, ''),
            on_stored=lambda answer, name: self._prepare(marker, {'input': answer['name'], 'name': name}, name),
            on_failed=lambda code, params, text: self._say(
                marker, refusal(tr, code, params, text, upload.limit), error=True
            ),
        )  # fmt: skip

    def _prepare_button(self, key: str, marker: str) -> None:
        tr = self.tr
        if key == LAB_TASKS:
            params, name, label = {'source': LAB_TASKS}, LAB_TASKS, tr('alignment.train.prepare_tasks')
        else:
            params, name = {'hf': key, 'name': hub_name(key)}, hub_name(key)
            label = tr('alignment.data.hub.prepare', name=name)
            self._hub_facts(key, marker)
        state = tr('alignment.data.prepared', name=name) if _prepared(name) else tr('data.cards.not_prepared')
        ui.label(state).classes('text-sm text-gray-600').mark(f'{marker}-state')
        button = ui.button(label, icon='download' if key != LAB_TASKS else 'auto_awesome')
        button.on_click(lambda: self._prepare(marker, params, name))
        button.props('outline dense no-caps').classes('mt-auto').mark(f'{marker}-prepare')

    def _hub_facts(self, dataset: str, marker: str) -> None:
        """A named dataset's licence (before anything is downloaded), its page, and whether this lab is offline."""
        tr = self.tr
        with ui.row().classes('items-baseline gap-1 text-sm'):
            ui.label(tr('alignment.data.hub.licence'))
            licence = ui.label(NAMED_DATASETS[dataset]['licence']).classes('font-mono').mark(f'{marker}-licence')
            licence.props('translate=no')  # a licence's name, not words to translate
        link = f'https://huggingface.co/datasets/{dataset}'
        ui.link(tr('alignment.data.hub.page'), link, new_tab=True).classes('text-xs').mark(f'{marker}-link')
        if hf_offline():
            offline = ui.label(tr('alignment.data.hub.offline_now')).classes(f'{theme.CAPTION} text-amber-800')
            offline.mark(f'{marker}-offline')

    async def _prepare(self, marker: str, params: dict[str, Any], name: str) -> None:
        """A prepare-conversations job, followed on the card; the page hears a success."""
        if self.manager is None:
            self._say(marker, self.tr('data.no_server'), error=True)
            return
        self._say(marker, '')
        try:
            job = self.manager.submit('prepare-conversations', params)
        except ValueError as e:  # ConfigError: a name the job refuses
            self._say(marker, self.tr('components.job.error', message=self.tr.error(e)), error=True)
            return
        end = await self.progress[marker].follow(self.manager, job)
        if end and end.get('status') == 'succeeded' and not self.is_deleted:
            self._say(marker, self.tr('walk.upload.done', name=name))
            self.on_prepared(name)

    def _say(self, marker: str, text: str, *, error: bool = False) -> None:
        label = self.results[marker]
        label.set_text(text)
        label.classes(replace='text-sm text-red-700' if error else 'text-sm text-green-700')
        label.props['role'] = 'alert' if error else 'status'

    def _explain(self, event: dict) -> str:
        """A failed preparation: what to do about this kind of problem on this page, then the engine's message (or,
        where the engine's advice is the CLI's, the facts of it in the page's words)."""
        code, params = event_error(event)
        return headline(self.tr, code, self.tr.event_message(event), HEADLINES, 'alignment.data.errors', params)


class conversation_facts(ui.column):  # noqa: N801 - a NiceGUI component
    """The chosen dataset: the shape found, the lines skipped (with their numbers), conversations and turns, then,
    for the chosen base, tokens, the trained share and how many are too long. `refused` holds a set SFT would refuse
    (nothing fits), by (dataset, base), for the form to refuse it too; `on_measured()` hears each measurement."""

    def __init__(self, *, tr: Translator, on_measured: Callable[[], None]) -> None:
        super().__init__()
        self.tr, self.on_measured = tr, on_measured
        self.refused: dict[tuple[str, str], LabError] = {}
        self.key: tuple[str, str] | None = None
        self.classes('w-full gap-2').mark('conv-facts')

    def reset(self) -> None:
        """Forget what is shown: the next `show` draws and measures again, even for the same dataset and base."""
        self.key = None
        self.clear()

    async def show(self, dataset: str, base: str) -> None:
        """Redraw for this dataset (when prepared) and base; measure the tokens in a worker."""
        if (dataset, base) == self.key:
            return
        self.key = (dataset, base)
        self.clear()
        folder = workspace.data_root() / dataset
        if not (folder / MANIFEST_FILE).is_file():
            return
        with self:
            ui.label(self.tr('alignment.data.facts.title', name=dataset)).classes('text-base font-semibold')
            self._source(read_json_object(folder / MANIFEST_FILE).get('source') or {})
            self._counts(read_json_object(folder / STATS_FILE))
            tokens = ui.row().classes(theme.ROW_WRAP).mark('conv-facts-tokens')
            with tokens:
                ui.label(self.tr('alignment.data.facts.measuring')).classes(theme.CAPTION)
        await self._tokens(tokens, dataset, base)

    def _source(self, source: dict[str, Any]) -> None:
        ui.label(self._source_text(source)).classes('text-sm').mark('conv-facts-source')
        self._skipped((source.get('problems') or [])[:SHOWN_PROBLEMS], int(source.get('skipped') or 0))

    def _source_text(self, source: dict[str, Any]) -> str:
        """Where the conversations came from: lab-tasks' seed, or the shapes found in a file (and the licence)."""
        tr = self.tr
        if source.get('kind') == LAB_TASKS:
            return tr(
                'alignment.data.facts.lab_tasks', seed=source.get('seed', '?'), kinds=len(source.get('kinds', []))
            )
        shapes = ', '.join(
            tr('alignment.data.facts.shape_n', shape=tr(f'alignment.data.shapes.{s}'), n=f'{n:,}')
            for s, n in (source.get('shapes') or {}).items()
        )
        text = tr('alignment.data.facts.shapes', shapes=shapes or '—', lines=f'{source.get("lines", 0):,}',
                  skipped=f'{source.get("skipped", 0):,}')  # fmt: skip
        if source.get('kind') != 'huggingface':
            return text
        licence = source.get('licence') or tr('alignment.data.facts.no_licence')
        return text + ' ' + tr('alignment.data.facts.hub', dataset=source.get('dataset'), licence=licence)

    def _skipped(self, shown: list[dict[str, Any]], skipped: int) -> None:
        """The lines the preparation skipped, each with its number and why, in the page's language."""
        if not shown:
            return
        with ui.column().classes('gap-0').mark('conv-facts-skipped'):
            for p in shown:
                error = {'code': p.get('code'), 'params': p.get('params') or {}}
                line = self.tr.message('alignment_engine.at_line', {'line': p.get('line'), 'error': error})
                ui.label(line).classes('text-xs font-mono text-amber-800')
            if skipped > len(shown):
                ui.label(self.tr('alignment.data.facts.more_skipped', n=f'{skipped - len(shown):,}')).classes(
                    theme.CAPTION
                )

    def _counts(self, stats: dict[str, Any]) -> None:
        train, val = stats.get('train') or {}, stats.get('val') or {}
        with ui.row().classes(theme.ROW_WRAP):
            for key in ('conversations', 'turns'):
                value = self.tr(
                    'alignment.data.facts.split', train=f'{train.get(key, 0):,}', val=f'{val.get(key, 0):,}'
                )
                stat(self.tr(f'alignment.data.facts.{key}'), value, marker=f'conv-{key}')

    async def _tokens(self, row: ui.row, dataset: str, base: str) -> None:
        """Tokens for the chosen base, measured as SFT will pack them (a worker: it loads the base)."""
        from nanogpt_lab.alignment.sft import data_stats
        from nanogpt_lab.config import TrainConfig

        key = (dataset, base)
        init = base if base == BUNDLED else str(workspace.runs_root() / base)
        try:
            found = await run.io_bound(data_stats, TrainConfig(init_from=init, dataset=dataset))
            problem = None
        except LabError as e:  # every conversation too long, a base without a tokenizer: the engine's message
            found, problem = None, e
        if self.key != key or row.is_deleted:
            return
        self.refused.pop(key, None)
        row.clear()
        with row:
            if problem is not None:
                self.refused[key] = problem
                ui.label(self.tr.error(problem)).classes(theme.ERROR_TEXT).mark('conv-facts-error')
            else:
                self._token_tiles(found)
        self.on_measured()

    def _token_tiles(self, found: dict[str, Any]) -> None:
        tr, train, val = self.tr, found['splits']['train'], found['splits']['val']
        split = lambda key: tr('alignment.data.facts.split', train=f'{train[key]:,}', val=f'{val[key]:,}')  # noqa: E731
        stat(tr('alignment.data.facts.tokens'), split('tokens'), marker='conv-tokens')
        share = f'{100 * train["trained_share"]:.1f}%'
        stat(tr('alignment.data.facts.trained_share'), share, marker='conv-trained-share')
        stat(tr('alignment.data.facts.too_long', block=train['block_size']), split('too_long'), marker='conv-too-long')
        if found['added_chars']:
            added = tr('alignment.data.facts.added', n=len(found['added_chars']), chars=found['added_chars'][:40])
            ui.label(added).classes(theme.CAPTION).mark('conv-added-chars')


def _slug(key: str) -> str:
    """A card's marker from its key: HuggingFaceTB/everyday-conversations-llama3.1-2k → huggingfacetb-everyday-…."""
    return re.sub(r'[^a-z0-9]+', '-', key.lower()).strip('-')


def _taken(name: str) -> bool:
    """A learner's dataset cannot take the name of a source card's dataset."""
    return name == LAB_TASKS or name in {hub_name(d) for d in NAMED_DATASETS}


def _prepared(name: str) -> bool:
    return (workspace.data_root() / name / MANIFEST_FILE).is_file()
