"""Every stage in zh-CN, in both modes, in Debian's Chromium: the errors a learner can hit from the page are
triggered, and no English sentence is left on the page.

What counts as English: two or more Latin-script words in a row, or one English function word ("and", "of", ...),
in the text a person sees (and in the tooltips, placeholders and accessible names they hear). Left out are code
and data, as HTML marks them: `code`/`pre`/`kbd`/`samp`, form fields (the learner's own text), and elements
marked `translate="no"` (model samples, token text). Inside a sentence, code-shaped tokens (`n_embd`, `train.bin`,
`--block_size=64`, `U+4F60`, `1e-3`), commands (from `nanogpt-lab`/`torchrun`/`python`/`pip`/`git` to the end of
the line) and the names in `NAMES` are not words.
"""

from __future__ import annotations

import re
import shutil
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from nanogpt_lab.ui import stages as ui_stages
from nanogpt_lab.ui.i18n import Translator

pytestmark = pytest.mark.browser

TR = Translator('zh-CN')
STAGES = tuple(stage.slug for stage in ui_stages.STAGES)  # every stage the lab has, stage 7 included once it is
# proper names that stay in Latin script in Chinese text (products, papers, datasets, people, units of the trade)
NAMES = {
    'nanoGPT',
    'GPT',
    'GPT-1',
    'GPT-2',
    'GPT-3',
    'OpenAI',
    'PyTorch',
    'Shakespeare',
    'OpenWebText',
    'WebText',
    'SentencePiece',
    'tiktoken',
    'BPE',
    'CPU',
    'GPU',
    'CUDA',
    'MPS',
    'DDP',
    'MFU',
    'AdamW',
    'LayerNorm',
    'GELU',
    'Pre-LN',
    'Post-LN',
    'pre-LN',
    'post-LN',
    'Chinchilla',
    'PaLM',
    'Gopher',
    'Chowdhery',
    'Hoffmann',
    'ONNX',
    'token',
    'Adam',
    'Transformer',
    'ECharts',
    'NVIDIA',
    'Apple',
    'Karpathy',
    'ROMEO',
    'JULIET',
    'KV',
    'logits',
    'softmax',
}
PHRASES = ('tiny Shakespeare', 'Hugging Face', 'Megatron-Turing NLG', 'State of the Union')
# lines of Shakespeare the pages offer as prompts: the bundled model only knows his English
QUOTES = ('What light through yonder window breaks?', 'O Romeo, Romeo! wherefore art thou')
COMMAND = re.compile(r'(?:^|(?<=\s)|(?<=[：:（(「]))(?:nanogpt-lab|torchrun|python|pip|git)\b[^\n，。；]*')
CODE_CHARS = re.compile(r'[_./\\=$<>|@#~*+\d]|^-')
FUNCTION_WORDS = {
    'and',
    'or',
    'the',
    'is',
    'are',
    'of',
    'to',
    'in',
    'on',
    'at',
    'by',
    'for',
    'with',
    'from',
    'not',
    'no',
}
WORD = re.compile(r"[A-Za-z]{2,}(?:['’][a-z]+)?")
EDGE = '()[]{}（）「」『』【】<>,.;:!?，。；：！？、"\'“”‘’…·'

COLLECT = """() => {
  const skip = 'script,style,code,pre,kbd,samp,textarea,input,select,[translate="no"]';
  const seen = (el) => el.checkVisibility ? el.checkVisibility({visibilityProperty: true}) : !!el.offsetParent;
  const out = [];
  const walker = document.createTreeWalker(document.body, NodeFilter.SHOW_TEXT);
  for (let n = walker.nextNode(); n; n = walker.nextNode()) {
    const el = n.parentElement;
    if (el && !el.closest(skip) && seen(el) && n.textContent.trim()) out.push(n.textContent);
  }
  for (const el of document.body.querySelectorAll('[title],[placeholder],[aria-label]')) {
    if (el.closest(skip.replace(',input,select', '')) || !seen(el)) continue;
    for (const a of ['title', 'placeholder', 'aria-label']) if (el.getAttribute(a)) out.push(el.getAttribute(a));
  }
  return [...new Set(out)];
}"""


def english_runs(text: str, names: set[str] = NAMES, phrases: tuple[str, ...] = PHRASES) -> list[str]:
    """The runs of two or more Latin words (or a lone function word) in `text`, code, commands and names set aside."""
    for phrase in (*phrases, *QUOTES):
        text = text.replace(phrase, ' ')
    text = re.sub(r'`[^`]*`|https?://\S+', ' ', COMMAND.sub(' ', text))
    runs, run = [], []
    for raw in re.split(r'[\s\u3000]+|(?<=[\u4e00-\u9fff])|(?=[\u4e00-\u9fff])', text):
        token = raw.strip(EDGE)
        if not token or len(token) == 1 or CODE_CHARS.search(token) or token in names:
            if raw.strip() and not re.fullmatch(r'[A-Za-z]', token):
                runs.append(run)  # a Chinese character, a name, code or a symbol (→ ×) ends a run; 'a' or 'I' does not
                run = []
            continue
        if WORD.fullmatch(token) or re.fullmatch(r'[A-Za-z][A-Za-z-]+', token):
            run.append(token)
        else:
            runs.append(run)
            run = []
    runs.append(run)
    return [' '.join(r) for r in runs if len(r) >= 2 or (r and r[0].lower() in FUNCTION_WORDS)]


def _machine_names() -> set[str]:
    """Words of the CPU names this machine and the recordings report (hardware names are data, not sentences)."""
    from nanogpt_lab import hardware
    from nanogpt_lab.simulation import assets

    models = {hardware.cpu_model(), *(assets.load_provenance(a.name).get('cpu') or '' for a in assets.list_assets())}
    return {w.strip(EDGE) for m in models for w in m.split()}


def test_the_detector_sees_sentences_not_code() -> None:
    english = [
        'data/x.png is not text: it looks like a PNG image',
        "字符 '你' … is not in this 65-character vocabulary",
        '12:00:01 [info] scratch: 0.80M parameters, 768 tokens per iteration',
        '数据来源：nanoGPT data/openwebtext/readme.md and prepare.py (commit 3adf61e)',
        '已结束：cancelled · stopped at iteration 8',
        'No data available',
    ]
    assert [t for t in english if not english_runs(t)] == []
    chinese = [
        'n_embd（100）必须能被 n_head（3）整除',
        'gradient_accumulation_steps（1）必须能被 nproc_per_node（4）整除',
        "第 0 个位置的字符 '你'（U+4F60）不在这个 65 个字符的词表中",
        '12:00:01 [信息] scratch：0.80M 个参数，每步 768 个 token，cpu float32，未编译（compile=False）',
        'torchrun --standalone --nproc_per_node=4 -m nanogpt_lab.cli train --eval_interval=250',
        '请先运行 `nanogpt-lab prepare shakespeare_char`',
        'tiny Shakespeare：1.1 MB 的剧本；每个不同的字符就是一个 token。',
        'train.bin · val.bin · meta.pkl',
        'Pre-LN（GPT-2）与 Post-LN（GPT-1）',
        '你的一行，例如 ROMEO: What light through yonder window breaks?',
        '从 https://huggingface.co/openai-community/gpt2/tree/main 下载 config.json 和 model.safetensors',
    ]
    assert {t: english_runs(t) for t in chinese if english_runs(t)} == {}


# what a stopped job's status says, in Chinese: where it stopped ("已在 12 步后停止。"), or "已停止。" when it stopped
# before its first step
STOPPED = re.compile(
    '^(?:{}|{})$'.format(
        re.escape(TR('components.job.cancelled')),
        re.escape(TR('walk.run.stopped_at', n='{n}')).replace(re.escape('{n}'), r'[\d,]+'),
    )
)


class ChinesePage:
    """A zh-CN page of the lab: go to a stage, collect what it shows, remember every English run with where."""

    def __init__(self, watch: Any, url: str) -> None:
        self.watch, self.page, self.url = watch, watch.page, url
        self.names = NAMES | _machine_names()
        self.found: dict[str, set[str]] = {}

    def go(self, slug: str, mode: str, extra: str = '') -> None:
        url = f'{self.url}/{slug}?lang=zh-CN&mode={mode}{extra}'
        try:
            self.page.goto(url, wait_until='networkidle')
        except Exception:  # a navigation the previous page started (its own reload) can abort this one: go again
            self.page.goto(url, wait_until='networkidle')
        self.page.wait_for_timeout(800)  # charts animate, tokenizers finish in a worker thread
        self.check(f'{mode} /{slug}')

    def check(self, where: str) -> None:
        for text in self.page.evaluate(COLLECT):
            for run in english_runs(text, self.names):
                self.found.setdefault(f'{run!r} in {text[:160]!r}', set()).add(where)

    def assert_chinese(self) -> None:
        """Fail with every English run found, and where."""
        report = '\n'.join(f'{found}  ({", ".join(sorted(where))})' for found, where in sorted(self.found.items()))
        assert not self.found, f'English on zh-CN pages:\n{report}'

    def wait_for_text(self, text: str | re.Pattern[str], timeout: float = 60_000) -> None:
        self.page.get_by_text(text, exact=False).first.wait_for(timeout=timeout)

    def field(self, label: str) -> Any:
        return self.page.get_by_label(label, exact=True)

    def set_field(self, label: str, value: Any) -> None:
        field = self.field(label)
        field.fill(str(value))
        field.press('Tab')


@pytest.fixture(scope='module')
def lab(serve_lab: Any, tmp_path_factory: pytest.TempPathFactory, char_data_dir: Path) -> Iterator[str]:
    """The lab with tiny Shakespeare prepared (real mode has data to train on) and no network, as a learner offline."""
    home = tmp_path_factory.mktemp('lab_home_zh')
    shutil.copytree(char_data_dir / 'shakespeare_char', home / 'data' / 'shakespeare_char')
    with serve_lab(home, tmp_path_factory.mktemp('lab_log') / 'server.log') as url:
        yield url


def test_every_stage_in_chinese_in_both_modes(lab: str, watched: Any) -> None:
    zh = ChinesePage(watched(locale='zh-CN'), lab)
    mismeasured: dict[str, list] = {}
    for mode in ('simulation', 'real'):
        for slug in STAGES:
            zh.go(slug, mode)
            zh.watch.shot(f'zh-walk-{mode}-{slug}')
            mismeasured[f'{mode} /{slug}'] = zh.watch.mismeasured_chart_text()
    zh.assert_chinese()
    assert {where: texts for where, texts in mismeasured.items() if texts} == {}  # chart text laid out as drawn


def _upload(zh: ChinesePage, path: Path, expected: str) -> None:
    """Your own text, through the custom card of a fresh stage 1: pick the file, send it, wait for the answer."""
    zh.go('data', 'real')
    custom = zh.page.locator('.q-uploader', has_text=TR('data.upload.drop'))
    custom.locator('input[type=file]').set_input_files(str(path))
    zh.page.get_by_text(TR('walk.upload.send'), exact=True).click()
    zh.wait_for_text(expected)
    # the upload route refuses a file that is no UTF-8 text with a 422, which the browser logs: that is the point
    zh.watch.errors[:] = [e for e in zh.watch.errors if 'status of 422' not in e]


def test_the_errors_a_learner_can_hit_speak_chinese(lab: str, watched: Any, tmp_path: Path) -> None:
    zh = ChinesePage(watched(locale='zh-CN'), lab)
    page = zh.page
    # stage 1: files that are no text, too little text, bad JSON lines; a download with no network
    zh.go('data', 'real')
    bad = {
        'empty.txt': (b'', 'data.errors.empty'),
        'picture.txt': (b'\x89PNG\r\n\x1a\n' + bytes(range(256)) * 8, 'data.errors.binary'),
        'latin1.txt': ('Grüße aus Köln, '.encode('latin-1') * 200, 'data.errors.not_utf8'),
        'short.txt': (b'To be, or not to be, that is the question.\n', 'data.errors.too_small'),
        'bad.jsonl': (b'{"text": "fine"}\nnot json\n', 'data.errors.jsonl'),
    }
    for name, (content, headline) in bad.items():
        (tmp_path / name).write_bytes(content)
        _upload(zh, tmp_path / name, TR(headline))
        zh.check(f'stage 1 upload {name}')
    page.locator('button', has_text=TR('data.cards.prepare')).first.click()  # shakespeare (BPE): downloads
    zh.wait_for_text('无法下载')
    zh.check('stage 1 offline download')
    zh.watch.shot('zh-errors-1-offline')
    # stage 2: a text too short for SentencePiece, and Chinese in every lane
    zh.go('tokenizers', 'real')
    page.get_by_label(TR('tokenizers.input.aria')).fill('你好')
    page.wait_for_timeout(3000)
    zh.check('stage 2 short Chinese text')
    # stage 3: a shape whose heads do not divide its width
    zh.go('architecture', 'simulation', '&size=custom&n_layer=2&n_head=3&n_embd=100')
    zh.wait_for_text('n_embd（100）必须能被 n_head（3）整除')
    zh.check('stage 3 invalid shape')
    # stage 4: the same shape; four processes with one accumulation step; then a real run, stopped
    zh.go('pretraining', 'real', '&gpus=4')
    # four processes need an accumulation they divide: the page scales it and says so, in Chinese
    assert TR('walk.run.torchrun_accum', accum=1, new=4, n=4) in page.inner_text('body')
    n_layer, n_head, n_embd = (re.compile(rf'\({k}\)$') for k in ('n_layer', 'n_head', 'n_embd'))
    for label, value in ((n_head, 3), (n_embd, 100)):
        field = page.get_by_label(label)
        field.fill(str(value))
        field.press('Tab')
    zh.wait_for_text('n_embd（100）必须能被 n_head（3）整除')
    zh.check('stage 4 invalid shape')
    for label, value in ((n_layer, 1), (n_head, 2), (n_embd, 32), (re.compile(r'\(max_iters\)$'), 2000)):
        field = page.get_by_label(label)
        field.fill(str(value))
        field.press('Tab')
    page.get_by_text(TR('pretraining.run.start'), exact=True).click()
    zh.wait_for_text('scratch：', timeout=120_000)  # the log's first line: the model and its size
    page.get_by_text(TR('components.job.cancel'), exact=True).first.click()
    zh.wait_for_text(STOPPED, timeout=120_000)
    zh.wait_for_text('在第 ')  # "stopped at iteration N", in Chinese
    zh.check('stage 4 a real run, stopped')
    zh.watch.shot('zh-errors-4-stopped')
    # stage 4 in simulation mode: a replay stopped
    zh.go('pretraining', 'simulation', '&speed=1')
    page.get_by_text(TR('pretraining.run.start'), exact=True).click()
    page.get_by_text(TR('components.job.cancel'), exact=True).first.click()  # a stop before the first step is one too
    zh.wait_for_text(STOPPED)
    zh.check('stage 4 a replay, stopped')
    # stage 5: GPT-2 cannot be downloaded offline
    zh.go('finetuning', 'real')
    page.get_by_text(TR('finetuning.base.download'), exact=True).first.click()
    page.get_by_text(re.compile('无法连接 Hugging Face|无法下载 gpt2')).first.wait_for(timeout=120_000)
    zh.check('stage 5 offline download')
    zh.watch.shot('zh-errors-5-offline')
    # stage 6: a character the bundled model never saw
    zh.go('inference', 'simulation')
    zh.wait_for_text(TR('inference.model.loaded').split('{')[0].strip(), timeout=120_000)
    page.get_by_label(TR('inference.prompt')).fill('你好')
    zh.wait_for_text('不在这个')
    zh.check('stage 6 unknown character')
    zh.watch.shot('zh-errors-6-prompt')
    zh.assert_chinese()
