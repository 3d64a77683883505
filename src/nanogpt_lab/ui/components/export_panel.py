"""Export and use a finished run: a Hugging Face (safetensors) or ONNX folder made by an `export` job with its
progress, offered as a download, and how another program uses the model — the exported folder from Python
(transformers or onnxruntime), or the run itself through the lab's HTTP API and its OpenAI-style API — each with a
copy button, and a link to the API's reference at /docs.

Stages 4 and 5 show it for training and fine-tuning runs, stage 7 for SFT and DPO runs (`kinds`):
`export_panel(tr=..., client=..., base_url=..., kinds=..., bundled=...)`, `show(run_id)` to pick the run that just
finished.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from nicegui import ui
from nicegui.elements.mixins.text_element import TextElement

from nanogpt_lab.alignment.template import CHAT_FILE
from nanogpt_lab.export.usage import NEW_TOKENS, PROMPT, folder_snippet
from nanogpt_lab.inference.catalog import BUNDLED_CHAT
from nanogpt_lab.jobs.client import JobsClient
from nanogpt_lab.ui import theme
from nanogpt_lab.ui.components import run_sources
from nanogpt_lab.ui.components.job_progress import job_progress
from nanogpt_lab.ui.components.sampler_session import BUNDLED
from nanogpt_lab.ui.i18n import Translator

FORMATS = ('hf', 'onnx')
DOWNLOAD = '/api/exports/{name}/download'


def page_origin() -> str:
    """This page's server as the browser reached it ('http://127.0.0.1:8765'): where the snippets send requests."""
    try:
        return str(ui.context.client.request.base_url).rstrip('/')
    except RuntimeError:  # a page built without a request (a test's bare client)
        return 'http://127.0.0.1:8765'


def api_snippets(base_url: str, run_id: str, chat: bool) -> dict[str, str]:
    """A model through the lab's own server — a run by its id, or `bundled` — : its HTTP API (curl) and its
    OpenAI-style API (the official client)."""
    model = {'init_from': run_id} if run_id in (BUNDLED, BUNDLED_CHAT) else {'init_from': 'resume', 'out_dir': run_id}
    body = json.dumps({**model, 'prompt': PROMPT, 'max_new_tokens': NEW_TOKENS})
    curl = f"curl -N {base_url}/api/generate -H 'Content-Type: application/json' -d '{body}'"
    call = (
        f"client.chat.completions.create(model='{run_id}', messages=[{{'role': 'user', 'content': 'Hello!'}}])"
        '.choices[0].message.content'
        if chat
        else f'client.completions.create(model={run_id!r}, prompt={PROMPT!r}, max_tokens={NEW_TOKENS}).choices[0].text'
    )
    openai = '\n'.join(
        [
            'from openai import OpenAI',
            f"client = OpenAI(base_url='{base_url}/v1', api_key='local')  # any key: the lab runs on this machine",
            f'print({call})',
        ]
    )
    return {'http': curl, 'openai': openai}


class export_panel(ui.column):  # noqa: N801 - a NiceGUI component
    """The run, the format, Export with its progress, the download, and the snippets."""

    def __init__(
        self,
        *,
        tr: Translator,
        client: JobsClient | None,
        base_url: str,
        real: bool = True,
        kinds: tuple[str, ...] = run_sources.TRAINING_KINDS,
        bundled: str = BUNDLED,
    ) -> None:
        """The runs of `kinds` are offered; `real` False (simulation mode): no runs to export, and the API snippets
        name the `bundled` model."""
        super().__init__()
        self.tr, self.jobs, self.base_url, self.real = tr, client, base_url.rstrip('/'), real
        self.kinds, self.bundled = kinds, bundled
        self.runs = self._finished() if real else []
        self.fmt = 'hf'
        self.classes('w-full gap-3').mark('export')
        with self:
            if not real:
                ui.label(tr('walk.export.simulation')).classes(theme.HELP).mark('export-simulation')
            with ui.row().classes('w-full items-end gap-3 flex-wrap') as controls:
                options = {r['id']: run_sources.run_label(r, tr) for r in self.runs}
                first = next(iter(options), None)
                self.run_select = ui.select(options, value=first, label=tr('walk.export.run'), on_change=self._picked)
                self.run_select.classes('min-w-[24rem]').mark('export-run')
                formats = {f: tr(f'walk.export.format.{f}') for f in FORMATS}
                toggle = ui.toggle(formats, value=self.fmt, on_change=lambda e: self._format(e.value))
                toggle.props('no-caps dense unelevated').mark('export-format')
                self.button = ui.button(tr('walk.export.start'), icon='file_download', on_click=self._export)
                self.button.props('unelevated no-caps').mark('export-start')
            controls.set_visibility(real)
            self.none = ui.label(tr('walk.export.no_runs')).classes(theme.CAPTION).mark('export-none')
            self.job = job_progress(tr=tr, marker='export-job')
            with ui.row().classes('w-full items-center gap-3') as self.result:
                ui.icon('check_circle').style(f'color: {theme.OK}')
                self.folder = ui.label().classes(theme.MONO).mark('export-folder')
                self.download = ui.link(tr('walk.export.download'), '#').classes('text-sm').mark('export-download')
                self.download.props('download')
            self.result.set_visibility(False)
            self.python_title = ui.label().classes('text-sm font-semibold')
            self.python_box, self.python = self._code('export-python')
            api_title = ui.label(tr('walk.export.api_title')).classes('text-sm font-semibold')
            api_title.set_visibility(real)  # simulation mode's own line above introduces the snippets
            _, self.http = self._code('export-http')
            _, self.openai = self._code('export-openai')
            with ui.row().classes('items-center gap-2'):
                ui.icon('menu_book').classes('text-gray-500')
                ui.link(tr('walk.export.docs'), '/docs', new_tab=True).classes('text-sm').mark('export-docs')
        self._show_state()

    def show(self, run_id: str) -> None:
        """Offer this run (one that just finished); the list is read again, so a new run is in it."""
        self.runs = self._finished()
        options = {r['id']: run_sources.run_label(r, self.tr) for r in self.runs}
        self.run_select.set_options(options, value=run_id if run_id in options else next(iter(options), None))
        self._show_state()

    def _finished(self) -> list[dict[str, Any]]:
        """This page's kind of runs with a checkpoint, newest first (a stopped run keeps one too)."""
        return [r for r in run_sources.past_runs(self.jobs, self.kinds) if r.get('has_checkpoint')]

    def _code(self, marker: str) -> tuple[ui.row, TextElement]:
        """A dark code box with a copy button; returns the box and the `<pre>` that holds the code (code, comments
        included, is no sentence to translate: a zh-CN page shows it as written)."""
        with ui.row().classes('w-full items-start no-wrap gap-2 rounded-md bg-gray-900 px-3 py-2') as box:
            text = code_block()
            text.classes('m-0 font-mono text-xs text-gray-100 whitespace-pre-wrap break-all flex-1')
            copy = ui.button(icon='content_copy', on_click=lambda: self._copy(text.text))
            copy.props(f'flat dense round size=sm color=white aria-label="{self.tr("components.config.copy")}"')
            copy.mark(f'{marker}-copy')
        return box, text.mark(marker)

    def _copy(self, text: str) -> None:
        ui.clipboard.write(text)
        ui.notify(self.tr('components.config.copied'), type='positive', timeout=1500)

    def _picked(self, _: Any) -> None:
        self.result.set_visibility(False)
        self._show_state()

    def _format(self, fmt: str) -> None:
        self.fmt = fmt
        self.result.set_visibility(False)
        self._show_state()

    def _run(self) -> dict[str, Any] | None:
        return next((r for r in self.runs if r['id'] == self.run_select.value), None)

    def _show_state(self, folder: str | None = None) -> None:
        """The snippets for the chosen run: the API ones at once, the Python one for the exported folder."""
        run = self._run() if self.real else {'id': self.bundled}
        self.none.set_visibility(run is None)
        self.button.set_enabled(run is not None and self.jobs is not None)
        self.python_title.set_text(self.tr(f'walk.export.python_{self.fmt}' if folder else 'walk.export.python_after'))
        self.python.set_text(folder_snippet(Path(folder)) if folder else '')
        self.python_box.set_visibility(bool(folder))
        self.python_title.set_visibility(self.real)
        snippets = api_snippets(self.base_url, run['id'], self._chat(run['id'])) if run else {'http': '', 'openai': ''}
        self.http.set_text(snippets['http'])
        self.openai.set_text(snippets['openai'])

    def _chat(self, run_id: str) -> bool:
        """Whether the run speaks the chat template (stage 7): then the OpenAI snippet chats."""
        if run_id in (BUNDLED, BUNDLED_CHAT):
            return run_id == BUNDLED_CHAT
        try:
            return self.jobs is not None and (self.jobs.run_dir(run_id) / CHAT_FILE).is_file()
        except LookupError:
            return False

    async def _export(self) -> None:
        run = self._run()
        if run is None or self.jobs is None:
            return
        self.result.set_visibility(False)
        try:
            job = self.jobs.submit(
                'export', {'out_dir': run['id'], 'format': self.fmt, 'to': _name(run['id'], self.fmt)}
            )
        except ValueError as e:  # ConfigError: an export the engine refuses
            self.job.set_visibility(True)
            self.job.error.set_text(self.tr('components.job.error', message=self.tr.error(e)))
            return
        end = await self.job.follow_from(self.button, self.jobs, job)
        if end is None or end.get('status') != 'succeeded' or self.is_deleted:
            return
        path = str((end.get('summary') or {}).get('path') or '')
        self.folder.set_text(path)
        self.download.props['href'] = DOWNLOAD.format(name=Path(path).name)
        self.download.update()
        self.result.set_visibility(True)
        self._show_state(folder=path)


class code_block(TextElement):  # noqa: N801 - a NiceGUI element
    """Text that is code: a `<pre>` element, marked for no translation (browsers' translators leave it alone)."""

    def __init__(self, text: str = '') -> None:
        super().__init__(tag='pre', text=text)
        self.props['translate'] = 'no'


def _name(run_id: str, fmt: str) -> str:
    """The export's folder name under exports/ (a new export of the same run and format replaces the last)."""
    return f'{run_id}-{fmt}'
