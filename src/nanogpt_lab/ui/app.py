"""`nanogpt-lab serve`: the HTTP API and the seven stage pages in one NiceGUI/FastAPI app, started by `serve(...)`.

Pages are registered by `build(settings)`, never on import; `main.py` calls the same `build` for the tests.
"""

from __future__ import annotations

import contextlib
import secrets
from typing import Any

from fastapi import Request

from nanogpt_lab.config import ConfigError
from nanogpt_lab.ui.view import MODES, LabSettings

TITLE = 'nanoGPT Lab'


def build(settings: LabSettings) -> None:
    """Register a page for `/` (stage 1) and for each stage's path; call once before `ui.run`."""
    from nanogpt_lab.ui.stages import STAGES

    _register('/', STAGES[0], settings)
    for stage in STAGES:
        _register(stage.path, stage, settings)


def _register(path: str, stage: Any, settings: LabSettings) -> None:
    from nicegui import ui

    from nanogpt_lab.ui.shell import frame
    from nanogpt_lab.ui.view import View

    @ui.page(path, title=TITLE)
    def page(request: Request) -> None:
        """One tab's view of the stage: its own View (state), the shared frame, the stage's content."""
        query = dict(request.query_params)
        view = View.from_query(stage, settings, query, request.headers.get('accept-language'))
        with frame(view):
            stage.module().create(view)


def install_api(token: str | None) -> Any:
    """Mount the jobs API (engineer D's server) into NiceGUI's FastAPI app; returns its JobManager, or None
    when the server package is not there (then real mode says so instead of failing)."""
    from nicegui import app

    try:
        from nanogpt_lab.server.app import install
    except ImportError:
        return None
    return install(app, token=token)


def storage_setup() -> str:
    """Keep NiceGUI's per-browser storage (language, mode) in the workspace, signed with a per-workspace secret."""
    from nicegui.storage import Storage

    from nanogpt_lab import workspace
    from nanogpt_lab.fileio import atomic_open

    folder = workspace.home() / 'ui'
    Storage.path = folder / 'storage'
    secret_file = folder / 'storage_secret'
    if not secret_file.exists():
        with contextlib.suppress(FileExistsError), atomic_open(secret_file, mode=0o600, replace=False) as f:
            f.write(secrets.token_hex(32).encode())  # never readable by others, never over a secret just made
    return secret_file.read_text().strip()


def serve(
    host: str = '127.0.0.1',
    port: int = 8765,
    open_browser: bool = True,
    mode: str = 'simulation',
    token: str | None = None,
    token_file: str | None = None,
    **extra: Any,
) -> None:
    """Start the lab: check the bind address, mount the API, register the pages, print the URL, serve."""
    if extra:
        key = next(iter(extra))
        raise ConfigError('cli.serve_option', key=key)
    if mode not in MODES:
        raise ConfigError('cli.serve_mode', key='mode', value=mode, allowed=', '.join(MODES))
    token = _check_bind(host, token, token_file)
    install_api(token)
    build(LabSettings(default_mode=mode, token=token))
    _warm_models()
    shown = host if host not in ('0.0.0.0', '::') else '127.0.0.1'
    print(f'{TITLE}: http://{shown}:{port}/' + (f'?token={token}' if token else ''), flush=True)
    run_server(host, port, show=open_browser)


def run_server(host: str, port: int, *, show: bool) -> None:
    """NiceGUI's server with the lab's settings (`serve` and `nanogpt-lab bench ui` start the same one)."""
    from nicegui import ui

    ui.run(
        host=host,
        port=port,
        reload=False,
        show=show,
        title=TITLE,
        storage_secret=storage_setup(),
        show_welcome_message=False,
        uvicorn_logging_level='warning',
    )


def _warm_models() -> None:
    """Once the server runs, load the bundled model in the background (imports torch off the pages' path)."""
    from nicegui import app

    from nanogpt_lab.ui.components.sampler_session import warm_in_background

    app.on_startup(warm_in_background)


def _check_bind(host: str, token: str | None, token_file: str | None) -> str | None:
    """The server's rule: loopback needs nothing, any other address an access token (generated when missing)."""
    try:
        from nanogpt_lab.server.security import check_bind
    except ImportError:
        if host not in ('127.0.0.1', 'localhost', '::1'):
            raise ConfigError('cli.serve_no_server', key='host', host=host) from None
        return token
    checked = check_bind(host, token, token_file)
    return checked if isinstance(checked, str) else token
