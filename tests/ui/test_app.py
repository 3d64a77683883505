"""The lab's entry point: importing the UI never loads torch; serve refuses bad options before starting."""

from __future__ import annotations

import subprocess
import sys

import pytest

from nanogpt_lab.config import ConfigError
from nanogpt_lab.ui import app


def test_ui_modules_import_without_torch() -> None:
    code = (
        'import sys\n'
        'import nanogpt_lab.ui.app, nanogpt_lab.ui.theme, nanogpt_lab.ui.view, nanogpt_lab.ui.dataset_stats\n'
        'import nanogpt_lab.ui.estimates, nanogpt_lab.tools.bench.ui\n'
        'from nanogpt_lab.ui.stages import STAGES\n'
        'for stage in STAGES: stage.module()\n'
        'import nanogpt_lab.ui.components.device_badge, nanogpt_lab.ui.components.job_progress\n'
        'app = __import__("nicegui").app\n'
        'nanogpt_lab.ui.app.install_api(None)\n'
        'print("torch" in sys.modules, len(STAGES))\n'
    )
    out = subprocess.run([sys.executable, '-c', code], capture_output=True, text=True, timeout=120, check=True)
    assert out.stdout.split() == ['False', '7']


def test_pages_build_without_torch(tmp_path) -> None:
    """Building every stage page (simulation mode, in-process user client) leaves torch unloaded."""
    code = (
        'import asyncio, sys, os\n'
        'os.environ["NANOGPT_LAB_UI_DETECT_DEVICE"] = "0"\n'
        'from nicegui.testing.user_simulation import user_simulation\n'
        'async def main():\n'
        '    async with user_simulation(main_file=sys.argv[1]) as user:\n'
        '        for path in ("/", "/tokenizers", "/architecture", "/pretraining", "/finetuning", "/inference",\n'
        '                     "/alignment"):\n'
        '            await user.open(path)\n'
        '        await asyncio.sleep(1.0)\n'  # let the stage-2 tokenizers and the timers run
        '    print("torch" in sys.modules)\n'
        'asyncio.run(main())\n'
    )
    main_file = app.__file__.replace('app.py', 'main.py')
    env_home = {'NANOGPT_LAB_HOME': str(tmp_path / 'home')}
    out = subprocess.run(
        [sys.executable, '-c', code, main_file],
        capture_output=True,
        text=True,
        timeout=120,
        env={**__import__('os').environ, **env_home},
    )
    assert out.returncode == 0, out.stderr[-2000:]
    assert out.stdout.strip().splitlines()[-1] == 'False'


@pytest.mark.parametrize(
    ('kwargs', 'key'),
    [({'mode': 'turbo'}, 'mode'), ({'colour': 'red'}, 'colour')],
)
def test_serve_rejects_bad_options_before_starting(kwargs: dict, key: str) -> None:
    with pytest.raises(ConfigError) as e:
        app.serve(host='127.0.0.1', port=1, open_browser=False, **kwargs)
    assert e.value.key == key


def test_storage_secret_is_kept_in_the_workspace(workspace_home, monkeypatch) -> None:
    first = app.storage_setup()
    assert first == app.storage_setup()
    secret = workspace_home / 'ui' / 'storage_secret'
    assert secret.stat().st_mode & 0o777 == 0o600
    secret.unlink()

    def another_server_first(n: int) -> str:  # a second lab on this workspace makes the secret at the same moment
        secret.write_text('theirs')
        return 'ours'

    monkeypatch.setattr(app.secrets, 'token_hex', another_server_first)
    assert app.storage_setup() == 'theirs' and secret.read_text() == 'theirs'  # one secret for both
