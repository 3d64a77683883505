"""Stage 3's "inside a real model": one forward pass with hooks, five views, kept in step with the diagram."""

from __future__ import annotations

from nicegui.testing import User

from nanogpt_lab.ui.components.model_internals import PART_VIEW, VIEW_PART, VIEWS


def _weights(one, user: User) -> list:
    return one(user, 'inside-attention-chart').props['weights']


async def test_the_diagram_and_the_views_follow_each_other(user: User, one) -> None:
    await user.open('/architecture?lang=en')
    assert one(user, 'inside-view').value == 'attention' and one(user, 'part').value == 'c_attn'
    user.find(marker='diagram').trigger('svg:pointerdown', {'element_id': 'part-gelu'})
    await user.should_see('GELU')
    assert one(user, 'part').value == 'gelu'  # the part list follows a click on the diagram
    assert one(user, 'inside-view').value == 'mlp'  # and its real numbers open
    one(user, 'inside-view').value = 'embeddings'
    await user.should_see('transformer.wte')
    assert one(user, 'part').value == 'wte'
    user.find(marker='diagram').trigger('svg:pointerdown', {'element_id': 'part-residual-0'})
    await user.should_see('no parameters: pure computation')
    assert one(user, 'inside-view').value == 'stream'
    assert set(PART_VIEW.values()) == set(VIEWS) and all(PART_VIEW[VIEW_PART[v]] == v for v in VIEWS)


async def test_a_page_without_torch_says_the_model_is_not_loaded(user: User) -> None:
    await user.open('/architecture?lang=zh-CN')
    await user.should_see('真实模型的内部：嵌入、注意力权重、残差流、MLP 与下一个词元')
    await user.should_see('本页面没有加载模型')


async def test_prompt_edits_redraw_the_bundled_models_attention(torch_pages: None, user: User, until, one) -> None:
    await user.open('/architecture?lang=en')
    await until(lambda: bool(_weights(one, user)), timeout=60)
    assert one(user, 'inside-status').text == 'Loaded: 6 layers, 4 heads, 128 wide, pre-LN.'
    assert one(user, 'inside-attention-provenance').text.startswith('live · cpu')
    before = _weights(one, user)
    for i, row in enumerate(before):  # each query row is a distribution over the tokens up to itself
        assert abs(sum(row) - 1) < 0.02 and not any(row[i + 1 :])
    one(user, 'inside-prompt').value = 'JULIET:\nO Romeo'
    await until(lambda: len(_weights(one, user)) == 15)  # 15 tokens: a 15 × 15 pattern
    assert one(user, 'inside-attention-chart').props['tokens'][:3] == ['J', 'U', 'L']
    one(user, 'inside-head').value = 3
    await until(lambda: 'Layer 1, head 4' in one(user, 'inside-attention-summary').text)
    one(user, 'inside-view').value = 'stream'
    await until(lambda: bool(one(user, 'inside-ln-table').rows))
    table = one(user, 'inside-ln-table').rows
    assert [r['norm'] for r in table][-1] == 'ln_f' and all(r['on'] == 'a branch' for r in table)
    one(user, 'inside-view').value = 'next'
    await until(lambda: bool(one(user, 'inside-next-chart').options.get('series')))
    assert 'prompt=JULIET' in one(user, 'to-stage-6').props['href']
    one(user, 'inside-prompt').value = 'Price: 5 €'
    await until(lambda: 'cannot read the prompt' in one(user, 'inside-error').text)
    assert not one(user, 'inside-next-chart').options.get('series')  # no numbers of the previous prompt
