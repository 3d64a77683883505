"""OpenAI's API on a live lab server, driven by the official `openai` client: models, chat and text completions
(whole and streamed), stop strings, seeds, `n`, and every refusal as a 4xx the client raises by type."""

from __future__ import annotations

import shutil
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import openai
import pytest
import torch

from nanogpt_lab.alignment.embeddings import fit_vocab
from nanogpt_lab.alignment.template import chat_tokenizer_for, save_chat
from nanogpt_lab.config import ModelConfig
from nanogpt_lab.model.checkpoint import load_checkpoint, model_from_checkpoint, save_checkpoint
from nanogpt_lab.server.app import create_app
from nanogpt_lab.tokenizers.char import CharTokenizer, read_meta

ASK = [{'role': 'user', 'content': 'ROMEO: speak'}]


@pytest.fixture(scope='module')
def home(tmp_path_factory: pytest.TempPathFactory, nanogpt_baby_ckpt: Path, char_data_dir: Path) -> Path:
    """A workspace with two runs: nanoGPT's baby checkpoint (a base model) and the same model with the chat
    template attached (untrained for chat: its answers are Shakespeare-like, which is all these tests need)."""
    home = tmp_path_factory.mktemp('v1-home')
    base = home / 'runs' / 'base-baby'
    base.mkdir(parents=True)
    shutil.copyfile(nanogpt_baby_ckpt / 'ckpt.pt', base / 'ckpt.pt')
    shutil.copyfile(char_data_dir / 'shakespeare_char' / 'meta.pkl', base / 'meta.pkl')
    model = model_from_checkpoint(load_checkpoint(nanogpt_baby_ckpt))
    tokenizer = CharTokenizer.from_meta(read_meta(base / 'meta.pkl'))
    chat = chat_tokenizer_for(tokenizer, '0123456789')
    with torch.no_grad():
        fit_vocab(model, chat.vocab_size, range(tokenizer.vocab_size, chat.vocab_size), tokenizer.vocab_size)
    run = home / 'runs' / 'chat-baby'
    run.mkdir()
    args = ModelConfig(**{**model.config.model_dump(), 'vocab_size': chat.vocab_size})
    save_checkpoint(run, model=model, optimizer=None, model_args=args, iter_num=0, best_val_loss=0.0, config={})
    save_chat(run, chat)
    return home


@pytest.fixture(autouse=True)
def lab_home(home: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """The in-process server reads the workspace at each request: point it at the one holding the runs."""
    monkeypatch.setenv('NANOGPT_LAB_HOME', str(home))
    return home


@pytest.fixture(scope='module')
def base_url(serve: Any) -> Iterator[str]:
    with serve(create_app()) as url:
        yield url


@pytest.fixture(scope='module')
def client(base_url: str) -> openai.OpenAI:
    return openai.OpenAI(base_url=f'{base_url}/v1', api_key='unused-on-loopback', max_retries=0, timeout=60)


def _greedy(client: openai.OpenAI, **kw: Any) -> Any:
    return client.chat.completions.create(model='chat-baby', messages=ASK, temperature=0, max_tokens=24, **kw)


def test_models_lists_runs_and_the_bundled_model_with_their_chat_ability(client: openai.OpenAI) -> None:
    models = {m.id: m for m in client.models.list().data}
    assert {'bundled', 'base-baby', 'chat-baby'} <= set(models)
    assert models['chat-baby'].model_extra['chat'] is True and models['base-baby'].model_extra['chat'] is False
    assert client.models.retrieve('chat-baby').id == 'chat-baby'
    with pytest.raises(openai.NotFoundError):
        client.models.retrieve('no-such-model')


def test_a_chat_completion_answers_as_the_assistant_and_counts_tokens(client: openai.OpenAI) -> None:
    r = _greedy(client)
    choice = r.choices[0]
    assert r.object == 'chat.completion' and r.model == 'chat-baby' and r.id.startswith('chatcmpl-')
    assert choice.message.role == 'assistant' and isinstance(choice.message.content, str) and choice.message.content
    assert choice.finish_reason in ('stop', 'length')
    assert r.usage.prompt_tokens == 1 + len('ROMEO: speak') + 2  # <|user|> ... <|end|><|assistant|>
    assert 1 <= r.usage.completion_tokens <= 24
    assert r.usage.total_tokens == r.usage.prompt_tokens + r.usage.completion_tokens


def test_streaming_gives_the_same_answer_in_chunks_then_done(client: openai.OpenAI) -> None:
    whole = _greedy(client).choices[0]
    chunks = list(_greedy(client, stream=True, stream_options={'include_usage': True}))
    assert chunks[0].object == 'chat.completion.chunk' and chunks[0].choices[0].delta.role == 'assistant'
    text = ''.join(c.choices[0].delta.content or '' for c in chunks if c.choices)
    assert text == whole.message.content
    finishes = [c.choices[0].finish_reason for c in chunks if c.choices and c.choices[0].finish_reason]
    assert finishes == [whole.finish_reason]
    assert chunks[-1].choices == [] and chunks[-1].usage.completion_tokens >= 1


def test_the_raw_stream_ends_with_done(base_url: str) -> None:
    body = {'model': 'chat-baby', 'messages': ASK, 'max_tokens': 5, 'stream': True}
    with httpx.stream('POST', f'{base_url}/v1/chat/completions', json=body, timeout=60) as r:
        lines = [line for line in r.iter_lines() if line]
    assert r.headers['content-type'].startswith('text/event-stream') and lines[-1] == 'data: [DONE]'


def test_a_stop_string_ends_the_answer_before_it(client: openai.OpenAI) -> None:
    text = _greedy(client).choices[0].message.content
    assert len(text) >= 4, 'the greedy answer is long enough to cut'
    stop = text[2:4]
    r = _greedy(client, stop=[stop])
    assert r.choices[0].message.content == text[: text.find(stop)] and r.choices[0].finish_reason == 'stop'
    streamed = ''.join(c.choices[0].delta.content or '' for c in _greedy(client, stop=stop, stream=True) if c.choices)
    assert streamed == text[: text.find(stop)]


def test_n_answers_and_the_seed_makes_them_repeatable(client: openai.OpenAI) -> None:
    ask = dict(model='chat-baby', messages=ASK, max_tokens=12, n=3, seed=7, temperature=1.0)
    first, again = client.chat.completions.create(**ask), client.chat.completions.create(**ask)
    answers = [c.message.content for c in first.choices]
    assert [c.index for c in first.choices] == [0, 1, 2] and len(set(answers)) > 1
    assert answers == [c.message.content for c in again.choices]


def test_text_completions_continue_a_prompt_on_a_base_model(client: openai.OpenAI) -> None:
    r = client.completions.create(model='base-baby', prompt='ROMEO:', max_tokens=20, temperature=0)
    assert r.object == 'text_completion' and len(r.choices[0].text) > 0 and r.usage.prompt_tokens == 6
    streamed = ''.join(c.choices[0].text for c in client.completions.create(
        model='base-baby', prompt='ROMEO:', max_tokens=20, temperature=0, stream=True))  # fmt: skip
    assert streamed == r.choices[0].text
    echoed = client.completions.create(model='base-baby', prompt='ROMEO:', max_tokens=20, temperature=0, echo=True)
    assert echoed.choices[0].text == 'ROMEO:' + r.choices[0].text
    two = client.completions.create(model='bundled', prompt=['JULIET:', 'KING:'], max_tokens=5, n=2, seed=1)
    assert [c.index for c in two.choices] == [0, 1, 2, 3]


@pytest.mark.parametrize(
    ('ask', 'field'),
    [
        (dict(model='chat-baby', max_tokens=0), 'max_tokens'),
        (dict(model='chat-baby', max_tokens=10**6), 'max_tokens'),
        (dict(model='chat-baby', n=9), 'n'),
        (dict(model='chat-baby', temperature=3), 'temperature'),
        (dict(model='chat-baby', stop=['a', 'b', 'c', 'd', 'e']), 'stop'),
        (dict(model='base-baby'), 'model'),
        (dict(model='chat-baby', messages=[{'role': 'tool', 'content': 'x'}]), 'messages'),
        (dict(model='chat-baby', messages=[{'role': 'user', 'content': 'a' * 5000}]), None),
    ],
)
def test_bad_requests_are_refused_by_name(client: openai.OpenAI, ask: dict, field: str | None) -> None:
    with pytest.raises(openai.BadRequestError) as e:
        client.chat.completions.create(**{'messages': ASK, **ask})
    error = e.value.body
    assert error['type'] == 'invalid_request_error' and error['code'] and error['message']
    if field:
        assert error['param'] == field or error['field'] == field


def test_an_unknown_model_is_not_found(client: openai.OpenAI) -> None:
    with pytest.raises(openai.NotFoundError, match='no-such-model'):
        client.chat.completions.create(model='no-such-model', messages=ASK, max_tokens=5)
    with pytest.raises(openai.NotFoundError):
        client.completions.create(model='../../etc/passwd', prompt='x', max_tokens=5)


def test_errors_speak_the_callers_language(base_url: str) -> None:
    body = {'model': 'base-baby', 'messages': ASK}
    r = httpx.post(f'{base_url}/v1/chat/completions', json=body, headers={'Accept-Language': 'zh-CN'}, timeout=30)
    assert r.status_code == 400 and '对话模板' in r.json()['error']['message']


def test_another_sites_page_cannot_use_the_models(base_url: str) -> None:
    body = {'model': 'chat-baby', 'messages': ASK, 'max_tokens': 3}
    r = httpx.post(f'{base_url}/v1/chat/completions', json=body, headers={'Origin': 'https://evil.example'})
    assert r.status_code == 403


def test_with_a_token_the_key_is_the_bearer_token(serve: Any) -> None:
    token = 'a-long-enough-token-for-the-lab'
    with serve(create_app(token=token)) as url:
        good = openai.OpenAI(base_url=f'{url}/v1', api_key=token, max_retries=0)
        assert 'chat-baby' in [m.id for m in good.models.list().data]
        with pytest.raises(openai.AuthenticationError):
            openai.OpenAI(base_url=f'{url}/v1', api_key='wrong-key', max_retries=0).models.list()
