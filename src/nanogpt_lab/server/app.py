"""`install(app, token=...)`: the lab's HTTP API on a FastAPI app (NiceGUI's `app` is one), sharing one JobManager.

Cheap to call at start-up: no torch import; routes import the engine when first used.
"""

from __future__ import annotations

from fastapi import FastAPI

from nanogpt_lab.jobs.manager import JobManager, watch_server_exit
from nanogpt_lab.server.errors import install_error_handlers
from nanogpt_lab.server.security import Guard


def install(app: FastAPI, *, token: str | None = None, manager: JobManager | None = None) -> JobManager:
    """Register every /api and /v1 route, the JSON error handlers and the guard (token or same-machine) on `app`.

    The manager (a new one over the workspace's runs/ unless given) is stored on `app.state.jobs` and returned:
    the UI calls it in-process, the routes through HTTP. Workers still running are asked to stop (and save a
    checkpoint) when the app shuts down.
    """
    from nanogpt_lab.server.routes import datasets, exports, jobs, models, openai, runs

    manager = manager or JobManager()
    watch_server_exit()
    app.state.jobs = manager
    lifespan = app.router.lifespan_context
    for router in (jobs.router, runs.router, datasets.router, models.router, openai.router, exports.router):
        app.include_router(router)
    # include_router wraps the app's lifespan once per router, and NiceGUI's test plugin installs again per test on
    # its one app: the nesting grew until Python's recursion limit. Our routers have no lifespan of their own.
    app.router.lifespan_context = lifespan
    install_error_handlers(app)
    app.add_middleware(Guard, token=token)
    if app.openapi_url is None:  # NiceGUI's app starts without docs: the API's schema belongs at /openapi.json
        app.openapi_url, app.docs_url = '/openapi.json', app.docs_url or '/docs'
        app.setup()

    def shutdown() -> None:  # no parameters: NiceGUI passes the app to handlers that take one
        manager.close()

    if callable(getattr(app, 'on_shutdown', None)):  # NiceGUI runs its own lifespan and its own handler list
        app.on_shutdown(shutdown)
    else:
        app.router.on_shutdown.append(shutdown)
    return manager


def create_app(*, token: str | None = None, manager: JobManager | None = None) -> FastAPI:
    """A bare FastAPI app with only the API (for tests, benchmarks and API-only use); the lab's `serve` uses NiceGUI."""
    app = FastAPI(title='nanoGPT Lab API', version='1', docs_url='/docs', openapi_url='/openapi.json')
    install(app, token=token, manager=manager)
    return app
