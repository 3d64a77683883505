"""Stage 3: the diagram, sizes, the parameter calculator and the "will it fit" estimator, driven like a learner."""

from __future__ import annotations

from nicegui.testing import User

from nanogpt_lab.model import sizes


async def test_presets_show_their_exact_parameter_counts(user: User, text, one) -> None:
    await user.open('/architecture?lang=en')
    assert text(user, 'params-total-value') == '124,439,808'
    assert text(user, 'params-nanogpt-value') == '123,653,376'  # nanoGPT's count: position embeddings left out
    for size, total in (('gpt2-medium', '354,823,168'), ('gpt2-large', '774,030,080'), ('gpt2-xl', '1,557,611,200')):
        one(user, 'size').value = size
        await user.should_see(total)
    await user.should_see('× 48 blocks')


async def test_the_comparison_chart_holds_the_four_sizes(user: User, one) -> None:
    await user.open('/architecture?lang=en&size=custom&n_layer=4&n_head=4&n_embd=128&block=64')
    chart = one(user, 'compare-chart')
    values = [d['value'] for d in chart.options['series'][0]['data']]
    expected = [r['params'] for r in sizes.preset_sizes()]
    assert values[:4] == [round(v / 1e6, 1) for v in expected]
    assert len(values) == 5  # the custom model joins the comparison
    assert one(user, 'compare-summary').text.startswith('GPT-2 small has 124,439,808')


async def test_custom_size_is_validated_inline(user: User, text, one) -> None:
    await user.open('/architecture?lang=en&size=custom&n_layer=4&n_head=4&n_embd=128&block=64')
    before = text(user, 'params-total-value')
    one(user, 'custom-n_head').value = 3
    await user.should_see('must be divisible by n_head (3)')
    assert one(user, 'custom-n_embd').props['error'] is True
    assert text(user, 'params-total-value') == before  # the last valid model stays on screen
    one(user, 'custom-n_head').value = 8
    await user.should_not_see('must be divisible')
    assert one(user, 'custom-n_embd').props['error'] is False


async def test_clicking_a_part_explains_it_with_shapes_and_params(user: User, text, one) -> None:
    await user.open('/architecture?lang=en&batch=12&ctx=1024')
    user.find(marker='diagram').trigger('svg:pointerdown', {'element_id': 'part-c_fc'})
    await user.should_see('mlp.c_fc · expand to 4C')
    assert text(user, 'part-code') == 'transformer.h[i].mlp.c_fc'
    assert '(12, 1024, 768) → (12, 1024, 3072)' in text(user, 'part-shape')
    assert text(user, 'part-params') == '2,362,368 parameters per block × 12 blocks = 28,348,416'
    user.find(marker='diagram').trigger('svg:pointerdown', {'element_id': 'part-residual-1'})
    await user.should_see('no parameters: pure computation')
    one(user, 'part').value = 'lm_head'
    await user.should_see('weight tying')


async def test_post_ln_redraws_the_block_without_ln_f(user: User, one) -> None:
    await user.open('/architecture?lang=en')
    diagram = one(user, 'diagram')
    assert 'part-ln_f' in diagram.content
    one(user, 'ln').value = 'post'
    await user.should_see('Post-LN (the original Transformer and GPT-1)')
    assert 'part-ln_f' not in diagram.content
    assert 'part-ln_1' in diagram.content


async def test_will_it_fit_says_no_and_suggests_a_fix_that_works(user: User, text, one) -> None:
    await user.open('/architecture?lang=en&size=gpt2-xl&batch=64&ctx=1024&dtype=float32&target=T4&accum=1')
    assert text(user, 'fit-answer').startswith('Does not fit')
    assert text(user, 'fit-fix').startswith('Nothing fits 14.40 GiB by one change')  # no fix that fails is offered
    await user.open('/architecture?lang=zh-CN&size=gpt2-xl&batch=1&ctx=1024&dtype=bfloat16&target=T4&accum=1')
    assert text(user, 'fit-fix').startswith('建议：') and 'gpt2-medium' in text(user, 'fit-fix')
    await user.open('/architecture?lang=en&size=gpt2&batch=64&ctx=1024&dtype=float32&target=T4&accum=8')
    assert text(user, 'fit-answer').startswith('Does not fit')
    assert 'gradient_accumulation_steps 8 →' in text(user, 'fit-fix')
    user.find(marker='fit-apply').click()
    await user.should_see('Fits:')
    assert int(one(user, 'fit-batch').value) < 64
    chart = one(user, 'memory-chart')
    assert [s['name'] for s in chart.options['series']][-1] == 'usable memory'


async def test_time_per_iteration_names_its_throughput_source(user: User, text) -> None:
    await user.open('/architecture?lang=en&target=A100&dtype=bfloat16&batch=12&ctx=1024&accum=40&mfu=30')
    assert 'Peak from the GPU datasheet: A100 bfloat16: 312 TFLOP/s' in text(user, 'fit-peak-source')
    fpt = sizes.flops_per_token(sizes.preset_config('gpt2'), seq_len=1024)
    seconds = fpt * 12 * 1024 * 40 / (312e12 * 0.3)
    assert text(user, 'fit-time-value') == f'≈ {seconds:.1f} s per optimizer step at 30% MFU'


async def test_chart_can_be_read_as_a_table(user: User, one) -> None:
    await user.open('/architecture?lang=en')
    card = one(user, 'breakdown')
    assert card.table is None  # made when first shown
    one(user, 'breakdown-table-toggle').value = True
    table = one(user, 'breakdown-table')
    assert table.visible and not card.chart.visible
    assert {r['part'] for r in table.rows} >= {'MLP (all blocks)', 'attention (all blocks)'}
    assert one(user, 'breakdown-summary').text.startswith('Of 124,439,808 parameters, MLP (all blocks) holds the most')


async def test_the_gpt1_vs_gpt2_table_is_there_in_chinese(user: User, one) -> None:
    await user.open('/architecture?lang=zh-CN')
    await user.should_see('GPT-1 与 GPT-2 对比')
    rows = one(user, 'gpt1-table').rows
    assert {
        'feature': '分词器',
        'gpt1': 'SentencePiece Unigram',
        'gpt2': 'GPT-2 BPE（tiktoken），50,257 个 token',
    } in rows


async def test_the_gpt1_presets_are_named_with_their_sizes(user: User, one) -> None:
    await user.open('/architecture?lang=en')
    text = one(user, 'gpt1-presets').text
    assert '--model=gpt1-mini' in text and '11,463,936 parameters with a 2,000-token' in text
    assert '116,534,784 parameters' in text  # transformers' OpenAIGPTLMHeadModel count (tests/model/test_presets.py)
