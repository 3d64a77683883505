"""`deferred`: a block the browser builds right after the page's first paint.

The server builds a page whole (its elements, events and tests do not change); the browser, though, builds every
element before it paints anything, and on a busy two-core machine a stage's lower sections (charts, tables, the
model internals) cost it about as long again as the part on the first screen. What a stage puts in `deferred()`
is built in the browser's next task, while the learner reads the top of the page.
"""

from __future__ import annotations

from nicegui import ui


class deferred(ui.element, component='deferred.js', default_classes='nicegui-column w-full'):  # noqa: N801
    """`with deferred():` — a full-width column (lowercase like ui.column) whose content the browser builds just
    after the first paint."""
