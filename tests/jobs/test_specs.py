"""Job requests: validated by the config models, camelCase accepted, and the workspace path rule."""

from __future__ import annotations

from pathlib import Path

import pytest

from nanogpt_lab.config import ConfigError
from nanogpt_lab.jobs.specs import KINDS, build_job, device_slots, exports_root, lanes, uploads_root


def test_plan_camelcase_config_is_accepted() -> None:
    spec = build_job('train', {'modelSize': 'custom', 'nLayer': 2, 'nHead': 2, 'nEmbd': 64, 'blockSize': 32,
                               'batchSize': 4, 'learningRate': 1e-3, 'maxIters': 50, 'device': 'cpu',
                               'compiledModel': False})  # fmt: skip
    assert spec.config['n_layer'] == 2 and spec.config['learning_rate'] == 1e-3 and spec.config['compile'] is False
    assert spec.devices == ['cpu'] and spec.run_id is None and spec.runner == 'engine'


@pytest.mark.parametrize(
    ('kind', 'params', 'key'),
    [
        ('train', {'nLayer': 2, 'nHead': 3, 'nEmbd': 100}, 'n_embd'),
        ('train', {'learning_rate': float('nan')}, 'learning_rate'),
        ('train', {'max_iter': 5}, 'max_iter'),
        ('train', {'out_dir': '../../etc'}, 'out_dir'),
        ('train', {'nproc_per_node': 2, 'gradient_accumulation_steps': 2}, 'nproc_per_node'),
        ('prepare-data', {'dataset': 'nope'}, 'dataset'),
        ('prepare-data', {'data_dir': '/tmp/elsewhere'}, 'data_dir'),
        ('download-weights', {'model': 'gpt5'}, 'model'),
        ('sample', {}, 'out_dir'),
        ('export', {'out_dir': 'run', 'format': 'pickle'}, 'format'),
        ('export', {'out_dir': 'run', 'to': '/tmp/x'}, 'to'),
        ('simulate', {'asset': '../x'}, 'asset'),
        ('simulate', {'asset': 'baby', 'speed': 3}, 'speed'),
        ('bench', {'suite': 'server'}, 'suite'),
    ],
)
def test_bad_requests_name_the_key(kind: str, params: dict, key: str) -> None:
    with pytest.raises(ConfigError) as e:
        build_job(kind, params, local=True)
    assert e.value.key == key, str(e.value)


def test_remote_callers_name_workspace_things_only(tmp_path: Path) -> None:
    outside = tmp_path / 'input.txt'
    outside.write_text('hello')
    with pytest.raises(ConfigError, match='only from this machine') as e:
        build_job('prepare-data', {'dataset': 'custom', 'input': str(outside)})
    assert e.value.key == 'input'
    spec = build_job('prepare-data', {'dataset': 'custom', 'input': str(outside)}, local=True)
    assert spec.config['input'] == str(outside.resolve())
    spec = build_job('prepare-data', {'dataset': 'custom', 'input': 'mytext.txt'})
    assert Path(spec.config['input']) == uploads_root() / 'mytext.txt'
    for name in ('../secret.txt', 'a/b.txt', '..', '.hidden'):
        with pytest.raises(ConfigError):
            build_job('prepare-data', {'dataset': 'custom', 'input': name}, local=True)


def test_runs_are_named_by_id_and_exports_stay_in_the_workspace() -> None:
    spec = build_job('train', {'out_dir': 'my-run', 'init_from': 'resume', 'device': 'cpu'})
    assert spec.run_id == 'my-run' and spec.config['out_dir'] is None
    spec = build_job('export', {'out_dir': 'my-run', 'format': 'onnx'})
    assert Path(spec.config['to']) == exports_root() / 'my-run-onnx'
    assert Path(spec.config['out_dir']).name == 'my-run'


def test_finetune_starts_from_the_finetune_defaults() -> None:
    from nanogpt_lab.config import FINETUNE_PRESET

    spec = build_job('finetune', {'device': 'cpu'})
    for key, value in FINETUNE_PRESET.items():
        assert spec.config[key] == value


def test_device_slots() -> None:
    import torch

    assert device_slots('cpu') == ['cpu']
    assert device_slots('auto')[0] in ('cpu', 'cuda:0', 'mps')
    assert lanes('cuda') == lanes('cuda:00') == ['cuda:0']
    assert lanes('cuda', 2) == ['cuda:0', 'cuda:1']
    if not torch.cuda.is_available():  # a device that is not here gets no lane: it is refused
        with pytest.raises(ConfigError, match='no CUDA GPU') as e:
            device_slots('cuda:1')
        assert e.value.key == 'device'


def test_unknown_kind() -> None:
    assert 'simulate' in KINDS
    with pytest.raises(ConfigError) as e:
        build_job('mine-bitcoin', {})
    assert e.value.key == 'kind'
