"""`deferred(build)`: a column the server fills once the browser has drawn the page and connected.

A stage's lower sections (charts, tables, the model internals) used to make the server build the page about twice
as long and the browser build about twice as many elements before it painted anything, on a busy two-core machine.
In `deferred(build)`, `build()` runs when the page's websocket connects (at once when it already is), and what it
makes reaches the browser as an update after the first paint. NiceGUI's `user` fixture connects inside `open()`, so
tests see the page whole.
"""

from __future__ import annotations

from collections.abc import Callable

from nicegui import context, ui


class deferred(ui.column):  # noqa: N801 - a NiceGUI component, lowercase like ui.column
    """`deferred(build)`: a full-width column holding what `build()` makes, made after the first paint."""

    def __init__(self, build: Callable[[], None]) -> None:
        super().__init__()
        self.classes('w-full gap-4')
        self._build: Callable[[], None] | None = build
        client = context.client
        if client.has_socket_connection:
            self._fill()
        else:
            client.on_connect(self._fill)  # again on each reconnect: built once

    def _fill(self) -> None:
        if self._build is None or self.is_deleted:
            return
        build, self._build = self._build, None
        with self:
            build()
