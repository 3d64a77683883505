"""GET /api/datasets, POST /api/datasets/upload, GET /api/datasets/{name}/stats, POST /api/tokenize."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Request
from starlette.concurrency import run_in_threadpool

from nanogpt_lab import workspace
from nanogpt_lab.server import schemas
from nanogpt_lab.server.errors import ApiError
from nanogpt_lab.server.http import json_body, validate
from nanogpt_lab.server.uploads import ALLOWED_SUFFIXES, receive_upload, upload_limit

router = APIRouter(prefix='/api', tags=['datasets'])
ERRORS = {code: {'model': schemas.ErrorOut} for code in (400, 404, 413, 415, 422)}
DATA_FILES = ('train.bin', 'val.bin', 'meta.pkl', 'stats.json')


def _dataset_dir(name: str):
    try:
        return workspace.inside(workspace.data_root(), name)
    except ValueError:
        raise ApiError(404, 'api.no_dataset', name=name) from None


def _describe(folder) -> dict[str, Any]:
    files = {f: (folder / f).stat().st_size for f in DATA_FILES if (folder / f).is_file()}
    return {'name': folder.name, 'files': files, 'prepared': {'train.bin', 'val.bin'} <= set(files)}


@router.get('/datasets', response_model=schemas.DatasetList, summary='Datasets prepared in the workspace')
async def list_datasets() -> dict:
    """The dataset folders under the workspace data/, with their files and sizes."""
    root = workspace.data_root()

    def scan() -> list[dict]:
        if not root.is_dir():
            return []
        return [_describe(p) for p in sorted(root.iterdir()) if p.is_dir() and not p.name.startswith('.')]

    return {'datasets': await run_in_threadpool(scan)}


@router.post(
    '/datasets/upload',
    response_model=schemas.UploadOut,
    status_code=201,
    responses=ERRORS,
    summary='Upload a text file (multipart field "file", optional "name") for a custom dataset',
    openapi_extra={
        'requestBody': {
            'required': True,
            'content': {
                'multipart/form-data': {
                    'schema': {
                        'type': 'object',
                        'properties': {'file': {'type': 'string', 'format': 'binary'}, 'name': {'type': 'string'}},
                        'required': ['file'],
                    }
                }
            },
        },
        'description': f'UTF-8 text ({", ".join(ALLOWED_SUFFIXES)}), at most {upload_limit():,} bytes by default '
        '($NANOGPT_LAB_UPLOAD_LIMIT_MB). Several `file` parts, or one .zip (unpacked, its entries bounded in count '
        'and size, names checked), become one folder. Then prepare it: POST /api/jobs/prepare-data '
        '{"dataset": "custom", "input": <name>, "name": <dataset name>} '
        '(or {"dataset": "tang_poems", "input": <name>}).',
    },
)
async def upload(request: Request) -> dict:
    """Store a text file, several, or a .zip's content under the workspace's uploads/ (streamed, size-checked)."""
    return await receive_upload(request)


@router.get('/datasets/{name}/stats', responses=ERRORS, summary="A prepared dataset's statistics (stats.json)")
async def dataset_stats(name: str) -> dict:
    """A prepared dataset's stats.json (counts, vocabulary histogram, split)."""
    folder = _dataset_dir(name)
    if not (folder / 'stats.json').is_file():
        raise ApiError(404, 'api.dataset_not_prepared', name=name)
    from nanogpt_lab.data import load_stats

    return await run_in_threadpool(load_stats, folder)


def _tokenizers(req: schemas.TokenizeIn) -> dict[str, Any]:
    """Each asked lane's tokenizer (the engine's `lane_tokenizer`); with `dataset`, its char vocabulary."""
    from nanogpt_lab import tokenizers as tk

    chosen: dict[str, Any] = {}
    for name in req.tokenizers:
        if name not in tk.LANES:
            raise ApiError(422, 'api.unknown_tokenizer', 'tokenizers', name=name, allowed=', '.join(tk.LANES))
        if name == 'char' and req.dataset:
            meta = _dataset_dir(req.dataset) / 'meta.pkl'
            if not meta.is_file():
                raise ApiError(404, 'api.no_meta', 'dataset', name=req.dataset)
            chosen[name] = tk.CharTokenizer.from_meta(tk.read_meta(meta))
        else:
            chosen[name] = tk.lane_tokenizer(name, req.text, req.unigram_vocab_size)
    return chosen


@router.post(
    '/tokenize',
    responses=ERRORS,
    summary='Tokenize one text with char, GPT-2 BPE, a trained BPE and a trained SentencePiece unigram (stage 2)',
    openapi_extra=schemas.body(schemas.TokenizeIn.model_json_schema()),
)
async def tokenize(request: Request) -> dict:
    """The same text cut by each tokenizer, with token spans and ratios."""
    req = validate(schemas.TokenizeIn, await json_body(request, required=True))

    def run() -> list[dict]:
        from nanogpt_lab.tokenizers import compare

        return [c.as_dict() for c in compare(req.text, _tokenizers(req))]

    return {'results': await run_in_threadpool(run)}
