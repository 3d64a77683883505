"""`lazy_echart`: ui.echart whose library loads after the page has drawn.

NiceGUI imports the component of every element on a page before it mounts the page, and ECharts is 1.1 MB of
JavaScript (360 KiB over the wire) fetched through three chained imports: one chart anywhere on a stage held back
the whole first paint. This element is ui.echart in every way (options, updates, `.chart` in the browser); only its
component is imported once the page is up, while an empty box of the chart's size keeps its place.
"""

from __future__ import annotations

from nicegui import __version__, ui
from nicegui.dependencies import register_importmap_override

# NiceGUI's own echart component, by a name lazy_echart.js imports when the first chart renders (the lab serves at /)
register_importmap_override('lab-echart', f'/_nicegui/{__version__}/components/{ui.echart.component.key}')


class lazy_echart(ui.echart, component='lazy_echart.js'):  # noqa: N801 - a NiceGUI component, lowercase like ui.echart
    """`lazy_echart(options)`: as `ui.echart(options)`."""
