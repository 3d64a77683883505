"""Stage 7: the recorded x-ray and accuracies with their provenance, a streamed chat with the bundled chat model,
the x-ray measured again after an edit, and a real SFT run started from the page."""

from __future__ import annotations

from pathlib import Path

from nicegui.testing import User


async def test_simulation_shows_the_recording_and_chats_with_the_bundled_chat_model(
    user: User, until, text, one, found
) -> None:
    await user.open('/alignment?lang=en')
    await user.should_see('Stage 7 · Alignment')
    tokens = one(user, 'xray-tokens').content
    assert 'data-trained="1"' in tokens and 'data-trained="0"' in tokens and 'data-special="1"' in tokens
    assert text(user, 'xray-share').endswith('the others are only read.')
    assert text(user, 'accuracy-headline').startswith('Held-out exact match over all kinds: before ')
    assert 'chat-lab-tasks' in text(user, 'accuracy-provenance')
    one(user, 'chat7-input').value = 'x' * 4001  # over the limit: refused, and it stays in the box
    user.find(marker='chat7-send').click()
    await until(lambda: text(user, 'chat7-status') != '', timeout=60)  # once the chat model is loaded
    assert text(user, 'chat7-status') == (
        'This message cannot be sent: the message has 4,001 characters; the limit is 4,000'
    )
    assert one(user, 'chat7-input').value == 'x' * 4001
    one(user, 'chat7-input').value = ''
    user.find(marker='chat7-two').click()  # nothing typed: said in the chat's status line, not ignored
    await until(lambda: text(user, 'chat7-status').startswith('Type a message first'))
    one(user, 'chat7-input').value = 'Spell cat.'
    user.find(marker='chat7-send').click()
    await until(
        lambda: found(user, marker='chat7-reply-text') and not one(user, 'chat7-send').props.get('disable'),
        timeout=60,
    )
    assert text(user, 'chat7-reply-text').strip()  # streamed by the real bundled chat model
    share = text(user, 'xray-share')
    box = next(b for role, b in one(user, 'turns').boxes if role == 'assistant')
    box.value = 'z z z z z z z z z z z z'  # another answer, of another length: the x-ray is measured again here
    await until(lambda: text(user, 'xray-share') != share, timeout=60)
    assert text(user, 'xray-status') == ''


async def test_real_sft_from_the_page(user: User, workspace_home: Path, until, one, text) -> None:
    from nanogpt_lab.alignment.lab_tasks import LAB_TASKS, prepare_lab_tasks

    prepare_lab_tasks(workspace_home / 'data' / LAB_TASKS)
    await user.open('/alignment?lang=en&mode=real')
    for key, value in {'max_iters': 2, 'eval_interval': 1, 'eval_iters': 1, 'batch_size': 4, 'device': 'cpu'}.items():
        one(user, f'sft-form-{key}').value = value
    assert text(user, 'sft-form-error') == ''
    assert '--init_from=bundled' in text(user, 'sft-form-command')
    user.find(marker='sft-start').click()
    monitor = one(user, 'sft-monitor')
    await until(lambda: monitor.curves.end is not None, timeout=120)
    assert monitor.curves.end['status'] == 'succeeded', str(monitor.curves.end)
    assert monitor.curves.val
    await user.should_see('Chat with ')


async def test_train_on_my_choices_starts_dpo_from_the_chat_model(
    user: User, workspace_home: Path, until, one, found
) -> None:
    from nanogpt_lab.alignment.preferences import Pair, append_pair

    await user.open('/alignment?lang=en&mode=real')
    assert not one(user, 'dpo-start').enabled  # no picks yet: nothing to train on, and the page says so
    await user.should_see('Pick answers first: my-picks holds no pairs yet.')
    for word in ('cat', 'dog', 'sun'):
        prompt = (('user', f'Spell {word}.'),)
        append_pair(workspace_home / 'data' / 'my-picks', Pair(prompt, ' '.join(word), word))
    await user.open('/alignment?lang=en&mode=real')
    await user.should_see('Starts a DPO run from the chat model on the 3 pairs in my-picks.')
    user.find(marker='dpo-start').click()
    await until(lambda: found(user, marker='dpo-panel-job') and one(user, 'dpo-panel-job').text)
    from nanogpt_lab.ui.components.job_progress import jobs_client

    manager = jobs_client()
    job = manager.get(one(user, 'dpo-panel-job').text)
    assert job['kind'] == 'dpo' and job['config']['init_from'] == 'bundled-chat' and job['config']['beta'] == 0.1
    manager.cancel(job['id'])
    await until(lambda: manager.get(job['id'])['status'] in ('cancelled', 'failed', 'succeeded'), timeout=60)
