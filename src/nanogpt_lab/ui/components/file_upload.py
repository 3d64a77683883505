"""A file picker that uploads through the lab's own HTTP route, `POST /api/datasets/upload`.

The page does not receive the file itself: the browser streams it to the same route an API client uses
(`server/uploads.py`: size limit while streaming, UTF-8 check, a sanitised name in the workspace's uploads/), so
the page and the API cannot disagree about what an acceptable upload is. Quasar's uploader shows the real
progress of that request. `on_picked(filename)` hears a choice, `on_stored(answer)` the route's JSON answer
(`name`, `bytes`, `files`, `suggested_dataset_name`), `on_failed(code, params, message)` its refusal (an ApiError's
coded JSON, or the browser's own refusal of a file too large or of the wrong type: `api.upload_too_large`).
With `multiple`, the files chosen together go in one request (Quasar's `batch`), and the route keeps them as one
folder, as it does a .zip.
"""

from __future__ import annotations

import json
from collections.abc import Awaitable, Callable
from pathlib import PurePath
from typing import Any

from nicegui import ui

from nanogpt_lab import workspace
from nanogpt_lab.config import MAX_UPLOAD_FILES

UPLOAD_ROUTE = '/api/datasets/upload'
TOO_LARGE = 'api.upload_too_large'  # the route's code for a file over the limit (the browser checks it first)
BAD_NAME = 'walk.upload.bad_name'  # named_upload's own refusal: a name that is empty or taken, before sending
ACCEPT = '.txt,.md,.jsonl,.json,.csv,.text'  # server/uploads.py's ALLOWED_SUFFIXES
_FAILED_JS = '(e) => emit(e.xhr ? e.xhr.status : 0, e.xhr ? e.xhr.responseText : "")'


def upload_limit() -> int:
    """The server's upload limit in bytes (the same one the HTTP route enforces)."""
    from nanogpt_lab.server.uploads import upload_limit as limit

    return limit()


class file_upload(ui.element):  # noqa: N801 - a NiceGUI component
    """Quasar's uploader, pointed at the lab's upload route; `start(name)` sends the chosen file (`name`: what the
    route stores it as, when it uploads as soon as it is chosen)."""

    def __init__(
        self,
        *,
        label: str,
        on_picked: Callable[[str], Any],
        on_stored: Callable[[dict[str, Any]], Awaitable[None] | None],
        on_failed: Callable[[str, dict[str, Any], str], None],
        auto: bool = False,
        accept: str = ACCEPT,
        multiple: bool = False,
        name: str = '',
    ) -> None:
        super().__init__('q-uploader')
        self.limit = upload_limit()
        self._props.update(
            {
                'url': UPLOAD_ROUTE,
                'field-name': 'file',
                'label': label,
                'accept': accept,
                'multiple': multiple,
                'batch': multiple,
                'max-files': MAX_UPLOAD_FILES if multiple else 1,
                'max-file-size': self.limit,
                'max-total-size': self.limit,
                'auto-upload': auto,
                'hide-upload-btn': True,
                'flat': True,
                'bordered': True,
                'form-fields': _fields(name),
            }
        )
        self.classes('w-full')
        self.on_failed = on_failed
        self.on('added', lambda e: on_picked(str(e.args)), js_handler='(files) => emit(files[0].name)')
        self.on('uploaded', lambda e: on_stored(json.loads(e.args)), js_handler='(e) => emit(e.xhr.responseText)')
        self.on('failed', self._failed, js_handler=_FAILED_JS)
        self.on('rejected', lambda e: on_failed(TOO_LARGE, {}, ''), js_handler='() => emit()')

    def start(self, name: str = '') -> None:
        """Upload the chosen file, stored under `name` (sanitised by the route; '' keeps the file's own name)."""
        self._props['form-fields'] = _fields(name)
        self.update()
        self.run_method('upload')

    def forget(self) -> None:
        """Clear the list, ready for another file."""
        self.run_method('reset')

    def _failed(self, e: Any) -> None:
        status, body = (e.args + [0, ''])[:2] if isinstance(e.args, list) else (0, '')
        try:
            error = json.loads(body).get('error') or {}
        except (ValueError, AttributeError):
            error = {}
        code = error.get('code') or (TOO_LARGE if status == 413 else '')
        self.forget()  # else Quasar sends the refused files again with the next ones chosen
        self.on_failed(code, error.get('params') or {}, error.get('message') or body or f'HTTP {status}')


def _fields(name: str) -> list[dict[str, str]]:
    """The form's `name` field: what the route stores the upload as ('' keeps the file's own name)."""
    return [{'name': 'name', 'value': name}] if name else []


class named_upload(ui.column):  # noqa: N801 - a NiceGUI component
    """A file picker that asks for the new dataset's name (prefilled from the file's name) before it sends the file:
    stage 1's "your own text" and stage 7's "your own conversations" take a learner's file the same way.

    `taken(name)` says whether a name is not available (a card's own name); `on_stored(answer, name)` hears the
    route's answer and the name to prepare it under; `on_failed(code, params, message)` a refusal, as `file_upload`.
    Markers: `marker` on the uploader, `<prefix>-name` on the name, `<prefix>-send` on the button.
    """

    def __init__(
        self,
        *,
        tr: Any,
        marker: str,
        prefix: str,
        taken: Callable[[str], bool],
        on_stored: Callable[[dict[str, Any], str], Awaitable[None] | None],
        on_failed: Callable[[str, dict[str, Any], str], None],
        on_picked: Callable[[], None] = lambda: None,
    ) -> None:
        super().__init__()
        self.tr, self.taken, self.picked, self.stored = tr, taken, on_picked, on_stored
        self.classes('w-full gap-1 p-0')
        with self:
            self.upload = file_upload(
                label=tr('data.upload.drop'),
                on_picked=self._picked,
                on_stored=self._stored,
                on_failed=on_failed,
            ).mark(marker)
            with ui.row().classes('w-full items-start gap-2 no-wrap') as self.naming:
                self.dataset_name = ui.input(tr('walk.upload.name')).props('dense outlined').classes('flex-1')
                self.dataset_name.mark(f'{prefix}-name')
                send = ui.button(tr('walk.upload.send'), icon='upload', on_click=self._send)
                send.props('unelevated dense no-caps').mark(f'{prefix}-send')
            self.naming.set_visibility(False)

    @property
    def limit(self) -> int:
        return self.upload.limit

    def _picked(self, filename: str) -> None:
        self.picked()
        self.dataset_name.set_value(workspace.sanitize_name(PurePath(filename).stem, fallback='my_text'))
        self.naming.set_visibility(True)

    def _send(self) -> None:
        """Send the file under the name asked for; a name that is empty or taken is refused before anything is sent."""
        name = workspace.sanitize_name(self.dataset_name.value or '', fallback='')
        if not name or self.taken(name):
            self.upload.on_failed(BAD_NAME, {}, '')
            return
        self.dataset_name.set_value(name)
        self.upload.start(name)

    def _stored(self, answer: dict[str, Any]) -> Awaitable[None] | None:
        name = workspace.sanitize_name(self.dataset_name.value or '', fallback=answer['suggested_dataset_name'])
        return self.stored(answer, name)
