"""POST /api/jobs/{kind}, GET /api/jobs, GET /api/jobs/{job_id}, its event stream, and cancel."""

from __future__ import annotations

from fastapi import APIRouter, Query, Request
from fastapi.responses import JSONResponse, StreamingResponse
from starlette.concurrency import run_in_threadpool

from nanogpt_lab.jobs.specs import KINDS
from nanogpt_lab.server import schemas
from nanogpt_lab.server.http import event_stream, is_local, json_body, last_event_id

router = APIRouter(prefix='/api/jobs', tags=['jobs'])
ERRORS = {code: {'model': schemas.ErrorOut} for code in (400, 404, 409, 413, 415, 422)}
HEARTBEAT_S = 15.0

_SUMMARIES = {
    'prepare-data': "Prepare a dataset (the plan's lab:nanogpt:prepare-data): train.bin, val.bin, meta.pkl",
    'download-weights': 'Download GPT-2 weights into the workspace (lab:nanogpt:download-weights)',
    'train': "Start training (lab:nanogpt:start-training); accepts the plan's camelCase NanoGPTConfig",
    'finetune': 'Start fine-tuning (lab:nanogpt:start-finetuning): training with fine-tuning defaults',
    'sft': 'Supervised fine-tuning on conversations (stage 7): a base run or GPT-2 learns the chat template',
    'prepare-conversations': 'Prepare conversations (lab-tasks, an uploaded JSONL, or a named Hugging Face dataset)',
    'eval': 'Score a run: val loss in nats and bits per character, exact match per task kind (report.json)',
    'dpo': 'Preference tuning (DPO, stage 7) of an SFT run; train events carry the reward margin and accuracy',
    'prepare-preferences': 'Prepare preference pairs: lab-preferences from an SFT run, an uploaded JSONL, a HF dataset',
    'report': "The report card of a run's lineage (base, SFT, DPO) side by side, into its report.json",
    'sample': 'Sample texts from a run, the bundled model or GPT-2 as a background job',
    'export': "Export a run to Hugging Face (safetensors) or ONNX under the workspace's exports/",
    'bench': 'Run a benchmark suite as a job',
    'simulate': 'Replay a recorded run through the event stream at 1x, 10x or instant speed',
}


def _submit_route(kind: str):
    async def submit(request: Request) -> JSONResponse:
        params = await json_body(request, required=kind in ('download-weights', 'export', 'bench', 'simulate'))
        # submitting may import torch once (to resolve device 'auto'): keep it off the event loop
        job = await run_in_threadpool(request.app.state.jobs.submit, kind, params, local=is_local(request))
        return JSONResponse(job, status_code=202, headers={'Location': f'/api/jobs/{job["id"]}'})

    submit.__name__ = f'submit_{kind.replace("-", "_")}'
    return submit


for _kind in KINDS:
    router.add_api_route(
        f'/{_kind}',
        _submit_route(_kind),
        methods=['POST'],
        status_code=202,
        summary=_SUMMARIES[_kind],
        response_model=schemas.JobOut,
        responses=ERRORS,
        openapi_extra=schemas.body(schemas.JOB_BODIES[_kind], required=_kind != 'prepare-data'),
    )


@router.get('', response_model=schemas.JobList, summary='Every job in the workspace, newest first')
async def list_jobs(request: Request) -> dict:
    """Every job in the workspace, newest first."""
    return {'jobs': await run_in_threadpool(request.app.state.jobs.list)}


@router.get('/{job_id}', response_model=schemas.JobOut, responses=ERRORS, summary='One job')
async def get_job(job_id: str, request: Request) -> dict:
    """One job: job.json plus queue position and hung flag."""
    return request.app.state.jobs.get(job_id)


@router.get(
    '/{job_id}/events',
    responses={**ERRORS, 200: {'content': {'text/event-stream': {}}, 'description': 'server-sent events'}},
    summary="The job's events as server-sent events; resumes after Last-Event-ID (or ?after=) and ends after end",
)
async def job_events(
    job_id: str, request: Request, after: int | None = Query(None, ge=0, le=2**62)
) -> StreamingResponse:
    """The job's events as server-sent events, resumable with Last-Event-ID."""
    manager = request.app.state.jobs
    manager.get(job_id)  # 404 before the stream starts
    return event_stream(manager.subscribe(job_id, last_event_id(request, after), heartbeat_s=HEARTBEAT_S))


@router.post('/{job_id}/cancel', response_model=schemas.JobOut, responses=ERRORS, summary='Cancel a job')
async def cancel_job(job_id: str, request: Request) -> dict:
    """Cancel a job: graceful first, killed after the timeout."""
    return await run_in_threadpool(request.app.state.jobs.cancel, job_id)
