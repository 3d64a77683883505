"""GET /api/exports/{name}/download: an exported folder (Hugging Face or ONNX, made by an `export` job) as one .zip.

The zip is written to a temporary file off the event loop (weights hardly compress, so the files are stored, not
deflated) and deleted once sent. Only folders under the workspace's exports/ are served, by their checked name.
"""

from __future__ import annotations

import os
import tempfile
import zipfile
from pathlib import Path

from fastapi import APIRouter
from fastapi.responses import FileResponse
from starlette.background import BackgroundTask
from starlette.concurrency import run_in_threadpool

from nanogpt_lab import workspace
from nanogpt_lab.errors import LabError
from nanogpt_lab.jobs.specs import exports_root
from nanogpt_lab.server import schemas
from nanogpt_lab.server.errors import ApiError

router = APIRouter(prefix='/api/exports', tags=['exports'])


@router.get(
    '/{name}/download',
    responses={404: {'model': schemas.ErrorOut}, 200: {'content': {'application/zip': {}}}},
    summary='An exported folder as one .zip (what the export panel offers for download)',
)
async def download(name: str) -> FileResponse:
    """The folder exports/<name>/ zipped, named <name>.zip."""
    try:
        folder = workspace.inside(exports_root(), name)
    except LabError:
        raise ApiError(404, 'api.export_not_found', name=name) from None
    if not folder.is_dir():
        raise ApiError(404, 'api.export_not_found', name=name)
    path = await run_in_threadpool(zip_folder, folder)
    return FileResponse(path, filename=f'{folder.name}.zip', background=BackgroundTask(os.unlink, path))


def zip_folder(folder: Path) -> str:
    """A temporary .zip holding `folder`'s files under `<folder name>/`; the caller deletes it."""
    fd, path = tempfile.mkstemp(prefix='nanogpt-lab-export-', suffix='.zip')
    os.close(fd)
    try:
        with zipfile.ZipFile(path, 'w', compression=zipfile.ZIP_STORED) as archive:
            for file in sorted(folder.rglob('*')):
                if file.is_file():
                    archive.write(file, Path(folder.name) / file.relative_to(folder))
    except BaseException:
        os.unlink(path)  # a failed zip (a full disk, a file gone meanwhile) leaves no half archive behind
        raise
    return path
