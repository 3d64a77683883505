"""OpenAPI shapes: request bodies straight from the config models (plus the plan's camelCase names), and responses.

Bodies are parsed by hand (`http.json_body`) so malformed JSON is a 400 and a wrong content type a 415; these
schemas only describe them, so /docs and schema-driven clients (schemathesis) see what the routes accept.
"""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, ConfigDict, Field

from nanogpt_lab.config import (
    PRETRAINED,
    ConversationsConfig,
    DataConfig,
    DpoConfig,
    EvalConfig,
    PlanConfig,
    PreferencesConfig,
    ReportConfig,
    SampleConfig,
    TrainConfig,
)
from nanogpt_lab.jobs.specs import BENCH_ARGS, BENCH_SUITES, CHECKOUT_KEY, EXPORT_FORMATS

# the plan's NanoGPTConfig fields (camelCase) that the API accepts besides the engine's snake_case keys
PLAN_FIELDS: dict[str, dict[str, Any]] = PlanConfig.model_json_schema()['properties']
CHECKOUT_SCHEMA = {
    'type': 'string',
    'description': 'Run with a karpathy/nanoGPT checkout instead of the lab engine: a folder name under the '
    "workspace's checkouts/, an https git URL (cloned there), or, from this machine only, an absolute path",
}


def _flat(model: type[BaseModel], extra: dict[str, Any] | None = None, camel: bool = False) -> dict[str, Any]:
    schema = model.model_json_schema()
    props = dict(schema['properties'])
    if camel:
        props.update(PLAN_FIELDS)
    props.update(extra or {})
    return {'type': 'object', 'title': schema.get('title'), 'properties': props, 'additionalProperties': False}


def _object(props: dict[str, Any], required: list[str] | None = None) -> dict[str, Any]:
    return {'type': 'object', 'properties': props, 'required': required or [], 'additionalProperties': False}


JOB_BODIES: dict[str, dict[str, Any]] = {
    'prepare-data': _flat(DataConfig),
    'download-weights': _object({'model': {'enum': list(PRETRAINED)}}, ['model']),
    'train': _flat(TrainConfig, {CHECKOUT_KEY: CHECKOUT_SCHEMA}, camel=True),
    'finetune': _flat(TrainConfig, {CHECKOUT_KEY: CHECKOUT_SCHEMA}, camel=True),
    'sft': _flat(TrainConfig, camel=True),
    'prepare-conversations': _flat(ConversationsConfig),
    'eval': _flat(EvalConfig),
    'dpo': _flat(DpoConfig, camel=True),
    'prepare-preferences': _flat(PreferencesConfig),
    'report': _flat(ReportConfig),
    'sample': _flat(SampleConfig, {CHECKOUT_KEY: CHECKOUT_SCHEMA}),
    'export': _object(
        {
            'out_dir': {'type': 'string', 'description': 'the run id to export'},
            'format': {'enum': list(EXPORT_FORMATS)},
            'to': {'type': 'string', 'description': "a folder name under the workspace's exports/"},
        },
        ['out_dir'],
    ),
    'bench': _object(
        {
            'suite': {'enum': list(BENCH_SUITES)},
            'args': {'anyOf': [model.model_json_schema() for model in BENCH_ARGS.values()]},
        },
        ['suite'],
    ),
    'simulate': _object(
        {'asset': {'type': 'string'}, 'speed': {'anyOf': [{'enum': [1, 10]}, {'enum': ['1x', '10x', 'instant']}]}},
        ['asset'],
    ),
}


def body(schema: dict[str, Any], required: bool = True) -> dict[str, Any]:
    """`openapi_extra` declaring a JSON request body with this schema."""
    return {'requestBody': {'required': required, 'content': {'application/json': {'schema': schema}}}}


class _Open(BaseModel):
    model_config = ConfigDict(extra='allow')


class ErrorDetail(BaseModel):
    code: str = Field(description='a stable code, the key of its message in the catalogs (e.g. config.divisible)')
    message: str = Field(description="the message in the request's Accept-Language (zh-CN or English)")
    field: str | None = Field(None, description='the request key at fault, when there is one')
    params: dict[str, Any] = Field(default_factory=dict, description="the message's parameters, by name")


class ErrorOut(BaseModel):
    """Every error: `{"error": {"code", "message", "field", "params"}}`."""

    error: ErrorDetail


class JobOut(_Open):
    """A job: its job.json plus queue position and hung flag."""

    id: str
    kind: str | None = None
    status: str
    queue_position: int | None = None
    hung: bool = False
    silent_s: float | None = None
    error: str | None = None
    damaged: str | None = Field(None, description='why job.json cannot be read (the run is listed, not trusted)')


class JobList(BaseModel):
    jobs: list[JobOut]


class RunOut(_Open):
    """One run's row: config summary, status, best val loss, last iteration, tokens seen, duration."""

    id: str
    kind: str | None = None
    status: str
    config: dict[str, Any] = Field(default_factory=dict)
    best_val_loss: float | None = None
    last_iter: int | None = None
    tokens: int | None = None
    duration_s: float | None = None
    has_checkpoint: bool = False
    simulated: bool = False
    damaged: str | None = Field(None, description='which of its files cannot be read, and why')


class RunList(BaseModel):
    runs: list[RunOut]


class EventList(BaseModel):
    events: list[dict[str, Any]]


class Deleted(BaseModel):
    deleted: str


class DatasetOut(_Open):
    name: str
    files: dict[str, int]
    prepared: bool


class DatasetList(BaseModel):
    datasets: list[DatasetOut]


class UploadOut(BaseModel):
    """Where an upload went: `name` is what `input` takes in a prepare-data job (a file, or a folder of `files`)."""

    name: str
    bytes: int
    files: int
    suggested_dataset_name: str


class TokenizeIn(BaseModel):
    model_config = ConfigDict(extra='forbid')

    text: str = Field(max_length=100_000)
    tokenizers: list[str] = Field(default_factory=lambda: ['char', 'gpt2', 'bpe', 'unigram'], max_length=8)
    dataset: str | None = Field(None, description="use this prepared dataset's char vocabulary (meta.pkl)")
    unigram_vocab_size: int = Field(1000, ge=300, le=8000, description='the trained lanes (bpe, unigram) size')


class GenerateIn(SampleConfig):
    """A SampleConfig (init_from resume + out_dir = run id, bundled, or gpt2*) plus what to stream back."""

    model_config = ConfigDict(frozen=True, extra='forbid', protected_namespaces=())

    prompt: str | None = Field(None, max_length=20_000, description='the prompt; overrides `start`')
    alternatives: int = Field(5, ge=0, le=50, description='runners-up per step, with probabilities')
    probabilities: bool = Field(False, description='add the distribution after each sampling stage per step')
    stream: bool = Field(True, description='server-sent events token by token; false: one JSON answer at the end')
    num_samples: int = Field(1, gt=0, le=10)
    max_new_tokens: int = Field(200, ge=1, le=2000)
