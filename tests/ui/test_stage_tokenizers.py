"""Stage 2: four tokenizers on the learner's text (two trained on it), the dataset-size consequence, the BPE replay."""

from __future__ import annotations

from nicegui.testing import User

from nanogpt_lab.tokenizers import CharTokenizer, GPT2Tokenizer, bpe_merge_replay, sequence_after
from nanogpt_lab.ui.i18n import catalog


def _count(user: User, one, lane: str) -> str:
    return one(user, f'lane-{lane}-tokens-value').text


async def _ready(user: User, one, until) -> None:
    await until(lambda: _count(user, one, 'unigram') != '…')


async def test_lanes_count_what_the_tokenizers_count(user: User, until, one) -> None:
    await user.open('/tokenizers?lang=en')
    await _ready(user, one, until)
    text = catalog('en')['tokenizers.samples.shakespeare']
    assert _count(user, one, 'gpt2') == f'{len(GPT2Tokenizer().encode(text)):,}'
    assert _count(user, one, 'char') == f'{len(CharTokenizer.from_text(text).encode(text)):,}'
    cpt = len(text) / len(GPT2Tokenizer().encode(text))
    assert one(user, 'lane-gpt2-context').text.startswith(f'A 256-token context holds about {round(256 * cpt):,} ch')
    chart = one(user, 'ratio-chart')
    assert [d['value'] for d in chart.options['series'][0]['data']][1] == round(cpt, 2)


async def test_every_lane_shows_bits_per_char_in_english_and_chinese(user: User, until, one) -> None:
    from nanogpt_lab.tokenizers import compare_lanes

    await user.open('/tokenizers?lang=en')
    await _ready(user, one, until)
    for sample in ('shakespeare', 'zh'):
        text = catalog('en')[f'tokenizers.samples.{sample}']
        if sample == 'zh':
            user.find(marker='sample-zh').click()
            await until(lambda text=text: _count(user, one, 'char') == f'{len(text):,}')
            await until(lambda: _count(user, one, 'unigram') != '…')
        for report in compare_lanes(text, vocab_size=1000):  # the engine, trained alike: the same numbers
            await until(lambda r=report: _count(user, one, r.name) == f'{r.n_tokens:,}')
            assert one(user, f'lane-{report.name}-bpc-value').text == f'{report.bits_per_char:.2f}'
            assert one(user, f'lane-{report.name}-cpt-value').text == f'{report.chars_per_token:.2f}'
        rows = one(user, 'ratio').rows
        assert len(rows) == 4 and all(row['bpc'] and row['cpt'] for row in rows)


async def test_chinese_and_emoji_samples_are_one_click_away(user: User, until, one) -> None:
    await user.open('/tokenizers?lang=en')
    await _ready(user, one, until)
    for sample in ('zh', 'emoji'):
        text = catalog('en')[f'tokenizers.samples.{sample}']
        user.find(marker=f'sample-{sample}').click()
        want = f'{len(GPT2Tokenizer().encode(text)):,}'
        await until(lambda want=want: _count(user, one, 'gpt2') == want)
        assert _count(user, one, 'char') == f'{len(text):,}'
    chips = one(user, 'lane-gpt2-chips').content
    assert 'title="id ' in chips and '\\x' in chips  # emoji bytes split across BPE tokens show as bytes


async def test_typing_updates_the_lanes_and_text_is_escaped(user: User, until, one) -> None:
    await user.open('/tokenizers?lang=en')
    await _ready(user, one, until)
    one(user, 'text').set_value('<b>hi</b> there')
    await until(lambda: _count(user, one, 'char') == '15')
    chips = one(user, 'lane-char-chips').content
    assert '>&lt;</span>' in chips and '>&gt;</span>' in chips  # one chip per character, each escaped
    assert '<b>' not in chips


async def test_show_whitespace_marks_spaces_and_newlines(user: User, until, one) -> None:
    await user.open('/tokenizers?lang=en')
    await _ready(user, one, until)
    assert '>·</span>' not in one(user, 'lane-char-chips').content
    one(user, 'show-ws').value = True
    chips = one(user, 'lane-char-chips').content
    assert '>·</span>' in chips and '>↵\n</span>' in chips


async def test_dataset_consequence_uses_recorded_counts(user: User, one) -> None:
    await user.open('/tokenizers?lang=en')
    await user.should_see('tiny Shakespeare is 1,115,394 char tokens but only 338,025 GPT-2 tokens: 3.30× fewer.')
    assert 'simulated' in one(user, 'dataset-chart-provenance').text


async def test_merge_replay_scrubber_shows_each_merge(user: User, until, one) -> None:
    await user.open('/tokenizers?lang=en')
    await _ready(user, one, until)
    text = catalog('en')['tokenizers.samples.shakespeare']
    steps = list(bpe_merge_replay(text, 200))
    scrubber = one(user, 'replay-step')
    assert scrubber.props['max'] == len(steps)
    scrubber.value = 10
    step = steps[9]
    await user.should_see(f'became token {step.new_id}. The text is now {step.length:,} tokens')
    assert one(user, 'replay-step-label').text == f'10 of {len(steps)}'
    chart = one(user, 'replay-chart-chart')
    assert chart.options['series'][0]['data'][10] == [10, step.length]
    assert chart.options['series'][0]['markLine']['data'] == [{'xAxis': 10}]
    shown = sequence_after(text, steps[:10], max_bytes=400)  # the sequence itself, as chips: fewer after merges
    assert one(user, 'replay-sequence').content.count('title="id ') == len(shown) < 400
    await user.should_see(f'the first {len(shown)} of {step.length:,}')
    assert len(steps) < 200  # a short text runs out of repeating pairs, and the page says so
    assert one(user, 'replay-stopped').text.startswith(f'Stopped after {len(steps)} of the 200 merges asked for')
    one(user, 'replay-merges').value = 50
    await until(lambda: one(user, 'replay-stopped').text.startswith(f'Stopped after {len(steps)} of the 50'))


async def test_a_shared_link_opens_the_same_text(user: User, until, one) -> None:
    await user.open('/tokenizers?lang=zh-CN&sample=own&text=hello%20hello&ws=1&step=2')
    await until(lambda: _count(user, one, 'char') == '11')
    assert one(user, 'text').value == 'hello hello'
    assert one(user, 'show-ws').value is True
    assert one(user, 'replay-step-label').text == '第 2 / 4 步'
    # four merges, not the 200 asked for: the page says why (no pair repeats), in the page's language
    assert one(user, 'replay-stopped').text.startswith('在要求的 200 次合并中做了 4 次就停下了')


async def test_a_lane_that_cannot_tokenize_says_why(user: User, until, tmp_path, monkeypatch, one) -> None:
    monkeypatch.setenv('NANOGPT_LAB_GPT2_BPE_DIR', str(tmp_path))  # GPT-2's vocabulary is not there
    await user.open('/tokenizers?lang=en')
    await until(lambda: one(user, 'lane-gpt2-error').text != '')
    assert 'holds neither gpt2.tiktoken nor encoder.json' in one(user, 'lane-gpt2-error').text
    assert _count(user, one, 'char') == '250'  # the other lanes still work
