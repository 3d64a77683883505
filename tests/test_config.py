"""config.py: one validated config per layer, nanoGPT's config files read as literals (never run), flags, presets,
the plan's camelCase, and the one home of the sampling defaults and of their conversion."""

from __future__ import annotations

from pathlib import Path

import pytest

from nanogpt_lab.config import (
    FINETUNE_PRESET,
    SAMPLE_TEMPERATURE,
    SAMPLE_TOP_K,
    ConfigError,
    DataConfig,
    SampleConfig,
    SamplingSettings,
    TrainConfig,
    build,
    from_args,
    from_camel,
    parse_overrides,
    parse_value,
    read_config_file,
    run_preset,
)
from nanogpt_lab.errors import LabError


def test_every_nanogpt_config_file_reads_as_literals(nanogpt_ref: Path) -> None:
    values = read_config_file(nanogpt_ref / 'config' / 'train_shakespeare_char.py')
    assert values['n_layer'] == 6 and values['block_size'] == 256 and values['dataset'] == 'shakespeare_char'
    assert values['lr_decay_iters'] == 5000 and values['learning_rate'] == 1e-3
    for path in sorted((nanogpt_ref / 'config').glob('*.py')):
        build(TrainConfig, read_config_file(path))  # each of nanoGPT's own files is a valid TrainConfig
    gpt2 = read_config_file(nanogpt_ref / 'config' / 'train_gpt2.py')
    assert gpt2['gradient_accumulation_steps'] == 5 * 8  # arithmetic on literals is computed, as Python would


@pytest.mark.parametrize(
    ('source', 'code'),
    [
        ('import os\nos.system("true")\n', 'config.file.not_assignment'),
        ('x = open("/etc/passwd").read()\n', 'config.file.calls_function'),
        ('x = eval("1")\n', 'config.file.calls_function'),
        ('x = [i for i in range(3)]\n', 'config.file.not_literal'),
        ('x = 1 / 0\n', 'config.file.cannot_compute'),
        ('x = (\n', 'config.file.syntax'),
    ],
)
def test_a_config_file_that_would_run_code_is_refused_by_line(tmp_path: Path, source: str, code: str) -> None:
    path = tmp_path / 'evil.py'
    path.write_text(source)
    with pytest.raises(ConfigError) as e:
        read_config_file(path)
    assert e.value.code == code and e.value.params['path'] == str(path)


def test_unreadable_config_files_say_why(tmp_path: Path) -> None:
    with pytest.raises(ConfigError) as e:
        read_config_file(tmp_path / 'missing.py')
    assert e.value.code == 'config.file.missing'
    (tmp_path / 'latin1.py').write_bytes('x = "für"\n'.encode('latin-1'))
    with pytest.raises(ConfigError) as e:
        read_config_file(tmp_path / 'latin1.py')
    assert e.value.code == 'config.file.unreadable'


def test_flags_parse_as_nanogpt_reads_them() -> None:
    assert parse_value('5') == 5 and parse_value('3e-4') == 3e-4 and parse_value('False') is False
    assert parse_value('gpt2') == 'gpt2' and parse_value("'quoted'") == 'quoted'
    files, flags = parse_overrides(['a.py', '--max_iters=5', '--learning-rate', '1e-3', 'b.py', '--compile=False'])
    assert files == ['a.py', 'b.py'] and flags == {'max_iters': 5, 'learning_rate': 1e-3, 'compile': False}
    with pytest.raises(ConfigError) as e:
        parse_overrides(['--batch_size'])
    assert e.value.key == 'batch_size'


def test_files_then_flags_then_validation(tmp_path: Path) -> None:
    first, second = tmp_path / 'first.py', tmp_path / 'second.py'
    first.write_text('batch_size = 4\nn_layer = 2\nn_head = 2\nn_embd = 64\n')
    second.write_text('batch_size = 8\nmax_iters = batch_size * 10\n')
    cfg = from_args(TrainConfig, [str(first), str(second), '--n_layer=3'], base={'dataset': 'shakespeare_char'})
    assert (cfg.batch_size, cfg.max_iters, cfg.n_layer, cfg.dataset) == (8, 80, 3, 'shakespeare_char')
    with pytest.raises(ConfigError) as e:
        from_args(TrainConfig, ['--learning_rat=0.1'])
    assert e.value.key == 'learning_rat' and 'learning_rate' in str(e.value)
    with pytest.raises(ConfigError) as e:
        build(TrainConfig, {'n_layer': True})  # JSON's true is not a number
    assert e.value.key == 'n_layer'


def test_configs_are_frozen() -> None:
    cfg = build(DataConfig, {'dataset': 'shakespeare_char'})
    with pytest.raises(Exception):  # noqa: B017 - pydantic's frozen-instance error
        cfg.dataset = 'openwebtext'  # type: ignore[misc]


def test_the_finetune_preset_is_the_one_kind_default_and_flags_override_it() -> None:
    assert run_preset('train') == {} and run_preset('finetune') == FINETUNE_PRESET
    assert run_preset('finetune') is not FINETUNE_PRESET  # a copy: a caller cannot change the preset
    cfg = from_args(TrainConfig, ['--learning_rate=1e-4'], base=run_preset('finetune'))
    assert cfg.learning_rate == 1e-4 and cfg.init_from == 'gpt2' and cfg.decay_lr is False
    assert cfg.early_stopping_patience == FINETUNE_PRESET['early_stopping_patience']


def test_the_plans_camel_case_maps_onto_engine_keys() -> None:
    values = from_camel({'modelSize': 'medium', 'nLayer': 4, 'learningRate': 1e-3, 'compiledModel': True, 'dropout': 0})
    assert values == {'model': 'gpt2-medium', 'n_layer': 4, 'learning_rate': 1e-3, 'compile': True, 'dropout': 0}


def test_sampling_defaults_and_their_one_conversion() -> None:
    cfg = SampleConfig()
    assert (cfg.temperature, cfg.top_k) == (SAMPLE_TEMPERATURE, SAMPLE_TOP_K) == (0.8, 200)  # nanoGPT's sample.py
    assert cfg.sampling() == SamplingSettings(0.8, 200, 1.0, 1.0)
    tuned = build(SampleConfig, {'temperature': 0.0, 'top_k': None, 'top_p': 0.9, 'repetition_penalty': 1.3})
    assert tuned.sampling() == SamplingSettings(temperature=0.0, top_k=None, top_p=0.9, repetition_penalty=1.3)
    assert SamplingSettings() == SamplingSettings(1.0, None, 1.0, 1.0)  # the model's own distribution
    with pytest.raises(LabError) as e:
        SamplingSettings(top_p=0.0)
    assert e.value.code == 'inference.top_p'
    with pytest.raises(ConfigError) as e:
        build(SampleConfig, {'temperature': float('nan')})
    assert e.value.key == 'temperature'
