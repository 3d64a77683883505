"""GET /api/runs, one run, its events and report.json, DELETE, and two runs' curves aligned by iteration and tokens."""

from __future__ import annotations

from fastapi import APIRouter, Query, Request
from fastapi.responses import FileResponse
from starlette.concurrency import run_in_threadpool

from nanogpt_lab import workspace
from nanogpt_lab.errors import LabError
from nanogpt_lab.events import read_events
from nanogpt_lab.jobs import registry
from nanogpt_lab.server import schemas
from nanogpt_lab.server.errors import ApiError

router = APIRouter(prefix='/api/runs', tags=['runs'])
ERRORS = {code: {'model': schemas.ErrorOut} for code in (404, 409, 422)}
MAX_EVENTS = 100_000


@router.get('', response_model=schemas.RunList, summary='Every run: config summary, status, best val loss, ...')
async def list_runs(request: Request) -> dict:
    """Every run's summary row, newest first."""
    return {'runs': await run_in_threadpool(request.app.state.jobs.runs)}


@router.get('/compare', responses=ERRORS, summary="Two runs' loss curves aligned by iteration and by tokens seen")
async def compare_runs(request: Request, a: str = Query(..., max_length=100), b: str = Query(..., max_length=100)):
    """Two runs' curves on shared iteration and token axes."""
    manager = request.app.state.jobs
    return await run_in_threadpool(registry.compare, manager.run_dir(a), manager.run_dir(b))


@router.get('/{run_id}', response_model=schemas.RunOut, responses=ERRORS, summary="One run's summary")
async def get_run(run_id: str, request: Request) -> dict:
    """One run's summary row."""
    return await run_in_threadpool(registry.run_summary, request.app.state.jobs.run_dir(run_id))


@router.get('/{run_id}/events', response_model=schemas.EventList, responses=ERRORS, summary="A run's recorded events")
async def run_events(
    run_id: str,
    request: Request,
    after: int = Query(0, ge=0, le=2**62),
    limit: int = Query(MAX_EVENTS, ge=1, le=MAX_EVENTS),
) -> dict:
    """A run's recorded events after `after`, at most `limit`."""
    run_dir = request.app.state.jobs.run_dir(run_id)

    def read() -> list[dict]:
        out = []
        for event in read_events(run_dir / workspace.EVENTS_NAME, after=after):
            out.append(event)
            if len(out) >= limit:
                break
        return out

    return {'events': await run_in_threadpool(read)}


@router.get(
    '/{run_id}/report.json',
    responses={404: {'model': schemas.ErrorOut}, 200: {'content': {'application/json': {}}}},
    summary="A run's report.json (its scores and report card), as a download",
)
async def run_report(run_id: str, request: Request) -> FileResponse:
    """Only the run folder's report.json, and only when it resolves inside the workspace (a link out is refused)."""
    from nanogpt_lab.evaluation.report_file import REPORT_FILE

    run_dir = request.app.state.jobs.run_dir(run_id)
    try:
        path = workspace.inside(run_dir, REPORT_FILE)
    except LabError:
        raise ApiError(404, 'api.report_not_found', run=run_id) from None
    if not path.is_file():
        raise ApiError(404, 'api.report_not_found', run=run_id)
    return FileResponse(path, media_type='application/json', filename=f'{run_dir.name}-{REPORT_FILE}')


@router.delete(
    '/{run_id}', response_model=schemas.Deleted, responses=ERRORS, summary='Delete a run (not while running)'
)
async def delete_run(run_id: str, request: Request) -> dict:
    """Delete a run's folder (refused while its job runs)."""
    await run_in_threadpool(request.app.state.jobs.delete_run, run_id)
    return {'deleted': run_id}
