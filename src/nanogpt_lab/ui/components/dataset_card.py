"""One dataset on stage 1: what it is, whether it is prepared here, and how to prepare it — by download (real mode)
or from a file the learner has (any mode, so an offline machine has no dead end).

The file goes through the lab's upload route (`file_upload`), then a `prepare-data` job turns it into train.bin /
val.bin; the card follows the job with a live bar and ends with a ✓ only when the job succeeded, or with the
reason it failed. The "your own text" card asks for the new dataset's name (prefilled from the file name) and
its tokenizer; what it prepares becomes a card of its own.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from nicegui import run, ui

from nanogpt_lab.ui import dataset_stats, estimates, theme
from nanogpt_lab.ui.components.file_upload import BAD_NAME, file_upload, named_upload
from nanogpt_lab.ui.components.job_progress import job_progress, jobs_client
from nanogpt_lab.ui.i18n import Translator

ARCHIVE_CODES = ('api.archive_unreadable', 'api.archive_entries', 'api.archive_too_large', 'api.archive_name',
                 'api.archive_link', 'api.archive_alone', 'api.too_many_files')  # fmt: skip
# An error's code -> the data.errors.<kind> line that says what to do about it on this page (the upload route's
# refusals and the preparation's own errors alike); the details follow in the page's language.
HEADLINES = {
    'api.empty_file': 'empty',
    'api.binary_file': 'binary',
    'api.not_text': 'binary',  # the upload route's classifier named the format (a PNG, a PDF…)
    'api.utf16': 'not_utf8',
    'api.not_utf8': 'not_utf8',
    'api.utf8_cut': 'not_utf8',
    'data.empty': 'empty',
    'data.binary': 'binary',
    'data.nul_byte': 'binary',
    'data.utf16': 'not_utf8',
    'data.not_utf8': 'not_utf8',
    'data.too_small': 'too_small',
    'data.char_vocab': 'char_vocab',
    'data.jsonl_invalid': 'jsonl',
    'data.jsonl_no_text': 'jsonl',
    **dict.fromkeys(('data.tang.no_files', 'data.tang.not_json', 'data.tang.not_list', 'data.tang.no_poems'), 'tang'),
    **dict.fromkeys(ARCHIVE_CODES, 'archive'),
    'download.offline': 'offline',
}
TOO_LARGE = ('api.upload_too_large', 'api.too_large_declared')
PACKAGED = ('tang_poems', 'dialogue')  # read from a downloaded or installed corpus with a licence of its own
FOLDER_ACCEPT = {'tang_poems': '.json,.zip'}  # datasets that come as many files: several at once, or one .zip
TEXT_TYPES = '.txt,.md,.jsonl'  # what the other cards say they take


class dataset_card(ui.card):  # noqa: N801 - a NiceGUI component
    """A dataset card. `on_show(name)` opens a dataset's statistics; `on_prepared(card, dataset)` hears a job that
    succeeded (the page then shows the new dataset and redraws the cards, this one with `done` = what it made)."""

    def __init__(
        self,
        name: str,
        *,
        tr: Translator,
        real: bool,
        selected: bool,
        on_show: Callable[[str], None],
        on_prepared: Callable[[str, str], None],
        done: str | None = None,
    ) -> None:
        super().__init__()
        self.name, self.tr, self.real, self.on_show, self.on_prepared = name, tr, real, on_show, on_prepared
        self.tokenizer = 'char'
        self.options: dict[str, Any] = {}  # what this card's own switches add to its prepare-data job
        border = 'border-indigo-600 ring-2 ring-indigo-200' if selected else ''
        self.classes(f'{theme.CARD} {border}').props('flat bordered').mark(f'card-{name}')
        known = name in dataset_stats.CARDS
        with self:
            ui.label(tr(f'data.cards.{name}.title') if known else name).classes(theme.CARD_TITLE)
            ui.label(tr(f'data.cards.{name}.about') if known else tr('walk.upload.yours')).classes(theme.CAPTION)
            if name == 'openwebtext':
                self._openwebtext_facts()
            elif name != 'custom':
                self._facts()
            if name in PACKAGED:
                self._corpus_options()
            if name != 'custom':
                self._actions()
            self._file_input()
            self.job = job_progress(tr=tr, marker=f'card-{name}-job', explain=self._explain)
            self.result = ui.label().classes('text-sm').mark(f'card-{name}-result')
            self.result.props['role'] = 'status'
            if done:
                self.result.set_text(tr('walk.upload.done', name=done))
                self.result.classes(replace='text-sm text-green-700')

    # --- what the card says ---------------------------------------------------------------------------------------

    def _facts(self) -> None:
        found = dataset_stats.stats_for(self.name, self.real, self.tr)
        marker = f'card-{self.name}-state'
        if found is None:
            ui.label(self.tr('data.cards.not_prepared')).classes('text-sm text-gray-600').mark(marker)
            return
        stats, provenance = found.stats, found.provenance
        tokens = stats['tokens']['total']
        ui.label(self.tr('data.cards.facts', tokens=f'{tokens:,}', vocab=f'{stats["vocab_size"]:,}')).classes('text-sm')
        color = theme.PROVENANCE_COLORS[provenance.kind]
        ui.label(provenance.text(self.tr)).classes(theme.CAPTION).style(f'color: {color}').mark(marker)

    def _openwebtext_facts(self) -> None:
        tr, owt = self.tr, estimates.OPENWEBTEXT
        facts = tr(
            'data.owt.facts',
            docs=f'{owt["documents"]:,}',
            gb=owt['download_bytes'] // 10**9,
            tokens=f'{owt["train_tokens"] + owt["val_tokens"]:,}',
            bin_gb=owt['train_bin_bytes'] // 10**9,
        )
        ui.label(facts).classes('text-sm').mark('owt-facts')
        estimate = ui.label(tr('data.owt.measuring')).classes('text-sm font-medium').mark('owt-estimate')
        ui.label(tr('data.owt.source', source=tr('sources.openwebtext'))).classes(theme.CAPTION)

        async def measure() -> None:
            rate = await run.io_bound(estimates.bpe_tokens_per_second, tr('tokenizers.samples.shakespeare') * 40)
            procs = await run.io_bound(estimates.prepare_processes)
            total = owt['train_tokens'] + owt['val_tokens']
            hours = total / (rate * procs) / 3600
            if not estimate.is_deleted:
                download_h = f'{owt["download_bytes"] * 8 / 100e6 / 3600:.1f}'
                text = tr('data.owt.estimate', hours=f'{hours:.1f}', rate=f'{rate:,.0f}', procs=procs,
                          download_h=download_h)  # fmt: skip
                estimate.set_text(text)

        ui.timer(0.3, measure, once=True)

    def _actions(self) -> None:
        tr = self.tr
        with ui.row().classes('gap-2'):
            show = ui.button(tr('data.cards.show'), on_click=lambda: self.on_show(self.name))
            show.props('outline dense no-caps').mark(f'show-{self.name}')
            if self.real and self.name in dataset_stats.CARDS:
                start = self._confirm_openwebtext if self.name == 'openwebtext' else self._download
                prepare = ui.button(tr('data.cards.prepare'), on_click=start).props('unelevated dense no-caps')
                prepare.mark(f'prepare-{self.name}')

    def _corpus_options(self) -> None:
        """The licence of a packaged corpus, and its one choice: simplified characters, or which languages."""
        tr, name = self.tr, self.name
        ui.label(tr(f'data.cards.{name}.license')).classes(theme.CAPTION).mark(f'card-{name}-license')
        if not self.real:
            return
        if name == 'tang_poems':
            self.options = {'simplified': False}
            ui.switch(
                tr('data.cards.tang_poems.simplified'), on_change=lambda e: self.options.update(simplified=e.value)
            ).props('dense').mark('tang-simplified')
        else:
            self.options = {'lang': 'all'}
            ui.toggle(
                {lang: tr(f'data.cards.dialogue.lang_{lang}') for lang in ('en', 'zh', 'all')},
                value='all',
                on_change=lambda e: self.options.update(lang=e.value),
            ).props('dense no-caps').mark('dialogue-lang')

    # --- preparing: by download, or from a file ------------------------------------------------------------------

    def _file_input(self) -> None:
        """The offline way in: this dataset's own file (tiny Shakespeare's input.txt, documents for OpenWebText), or
        any text for a dataset of the learner's own, named before it is sent."""
        tr, name = self.tr, self.name
        if name not in dataset_stats.CARDS:
            return  # an uploaded dataset is already prepared; another upload makes another card
        if name in PACKAGED and name not in FOLDER_ACCEPT:  # an installed package: nothing to upload
            ui.label(tr(f'data.cards.{name}.offline')).classes(f'{theme.CAPTION} mt-auto').mark(f'card-{name}-offline')
            return
        custom = name == 'custom'
        with ui.column().classes('w-full gap-1 mt-auto'):
            ui.label(_offline_hint(name, tr)).classes(theme.CAPTION).mark(f'card-{name}-offline')
            if custom:
                ui.toggle(
                    {'char': tr('data.upload.char'), 'gpt2': tr('data.upload.gpt2')},
                    value=self.tokenizer,
                    on_change=lambda e: setattr(self, 'tokenizer', e.value),
                ).props('dense no-caps').mark('upload-tokenizer')
            if custom:  # the dataset is named before it is sent: prefilled from the file's name
                self.upload = named_upload(
                    tr=tr, marker='upload-custom', prefix='upload', taken=lambda n: n in dataset_stats.CARDS,
                    on_picked=lambda: self.result.set_text(''), on_stored=self._stored, on_failed=self._refused,
                )  # fmt: skip
            else:
                many = {'accept': FOLDER_ACCEPT[name], 'multiple': True, 'name': name} if name in FOLDER_ACCEPT else {}
                self.upload = file_upload(
                    label=tr('walk.upload.choose'), on_picked=lambda _: self.result.set_text(''),
                    on_stored=lambda answer: self._stored(answer, self.name), on_failed=self._refused, auto=True,
                    **many,
                ).mark(f'upload-{name}')  # fmt: skip

    async def _stored(self, answer: dict[str, Any], name: str) -> None:
        """The route kept the file in uploads/: prepare it (as `name`, for the learner's own text)."""
        params = {'dataset': self.name, 'input': answer['name'], **self.options}
        if self.name == 'custom':
            params |= {'name': name, 'tokenizer': self.tokenizer}
        await self._prepare(params, name)

    def _refused(self, code: str, params: dict[str, Any], message: str) -> None:
        """The upload route (or the browser, for a file too large) refused the file: say why, in the page's words."""
        types = FOLDER_ACCEPT.get(self.name, TEXT_TYPES)
        self._failed(refusal(self.tr, code, params, message, self.upload.limit, types))

    async def _download(self) -> None:
        await self._prepare({'dataset': self.name, **self.options}, self.name)

    async def _confirm_openwebtext(self) -> None:
        """OpenWebText is a 54 GB download and hours of tokenizing: ask once more before starting."""
        tr = self.tr
        with ui.dialog() as dialog, ui.card().classes('gap-3 max-w-lg').mark('owt-confirm'):
            ui.label(tr('data.owt.confirm')).classes('text-sm')
            with ui.row().classes('justify-end w-full gap-2'):
                ui.button(tr('data.owt.cancel'), on_click=lambda: dialog.submit(False)).props('flat no-caps')
                ui.button(tr('data.owt.start'), on_click=lambda: dialog.submit(True)).props('unelevated no-caps')
        if await dialog:
            await self._download()
        dialog.delete()

    async def _prepare(self, params: dict[str, Any], name: str) -> None:
        manager = jobs_client()
        if manager is None:
            self._failed(self.tr('data.no_server'))
            return
        self.result.set_text('')
        try:
            job = manager.submit('prepare-data', params)  # as a remote caller: workspace names only, no paths
        except ValueError as e:  # ConfigError: a key the engine rejects
            self._failed(self.tr('components.job.error', message=self.tr.error(e)))
            return
        end = await self.job.follow(manager, job)
        if self.is_deleted:
            return
        if end and end.get('status') == 'succeeded':
            self.on_prepared(self.name, name)  # only now a ✓: the page redraws the cards with it

    def _failed(self, text: str) -> None:
        self.result.set_text(text)
        self.result.classes(replace='text-sm text-red-700')
        self.result.props['role'] = 'alert'

    def _explain(self, event: dict) -> str:
        """A failed preparation, in the page's language: what to do about this kind of problem, then the details."""
        code, params = event_error(event)
        return headline(self.tr, code, self.tr.event_message(event), params=params)


def event_error(event: dict[str, Any]) -> tuple[str, dict[str, Any]]:
    """A failed job's error code and parameters: from its end event, or from an error log line."""
    if event.get('type') == 'end':
        return event.get('error_code') or '', event.get('error_params') or {}
    return event.get('code') or '', event.get('params') or {}


def headline(
    tr: Translator,
    code: str,
    details: str,
    kinds: dict[str, str] = HEADLINES,
    prefix: str = 'data.errors',
    params: dict[str, Any] | None = None,
) -> str:
    """What to do about this kind of problem (by its code, from a page's `kinds` and catalog `prefix`), then the
    details: the engine's message, or where that ends in the CLI's advice (`--block_size`, `--input`), its facts in
    the page's words (`{prefix}.details.<code>`, filled with the error's `params`)."""
    page_words = f'{prefix}.details.{code}'
    if code in kinds and params is not None and tr.has(page_words):
        details = tr(page_words, **params)
    return tr('data.errors.detail', headline=tr(f'{prefix}.{kinds.get(code, "other")}'), message=details)


def refusal(
    tr: Translator, code: str, params: dict[str, Any], message: str, limit: int, types: str = TEXT_TYPES
) -> str:
    """An upload refused (by the route, the browser, or for its name), in the page's words; `types`: what the
    picker takes ('.txt,.md,.jsonl')."""
    if code == BAD_NAME:
        return tr(BAD_NAME)
    if code in TOO_LARGE:
        return tr('data.upload.too_large', mb=f'{limit / 1e6:,.3g}', types=types.replace(',', ', '))
    return headline(tr, code, tr.coded(code, params, message), params=params)


def _offline_hint(name: str, tr: Translator) -> str:
    """What a card's file input takes: tiny Shakespeare's input.txt, a corpus of documents, the Tang poems' files,
    or (the last card) any text, always prepared for real."""
    if name == 'custom':
        return tr('data.upload.always_real')
    if name in PACKAGED:
        return tr(f'data.cards.{name}.offline')
    return tr('walk.upload.offline_documents' if name == 'openwebtext' else 'walk.upload.offline_shakespeare')
