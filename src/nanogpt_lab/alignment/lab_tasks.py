"""lab-tasks: the lab's own instruction set, small enough for a baby model on a CPU to really learn.

Seeded and deterministic, in English and Chinese, seven kinds of short task. Each kind is a small class with its
prompts and its answer; exact match on the held-out split is what `nanogpt-lab eval` scores.

- spell, reverse, count, upper: an operation on a word. The held-out split uses words that never occur in
  training, so a model can only pass by having learned the operation.
- add (two numbers 0-9), say (a number 0-20 in the language asked for: English words or Chinese numerals), verse
  (the next line of a famous couplet): facts. Every fact is asked in several phrasings; the held-out split asks
  some facts in a phrasing training never used with them.

No held-out prompt occurs in training (tested). Every conversation fits 64 tokens with a char tokenizer, so the
baby model of nanoGPT's README (block_size 64) can be fine-tuned on all of it.
"""

from __future__ import annotations

import random
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from nanogpt_lab.alignment.conversations import write_conversations
from nanogpt_lab.events import Emit, null_emit

LAB_TASKS = 'lab-tasks'
VERSION = 1
HELD_OUT_SHARE = 0.15  # of the facts' (item, phrasing) pairs; of the words for the word tasks
SYSTEM_SHARE = 0.1  # conversations that start with a system message, so the template's system turn is learned
MAX_TOKENS = 65  # 64 inputs + the last target: every conversation trains whole in nanoGPT's baby model
SYSTEMS = ('Answer briefly.', 'You are a helpful assistant.', '请简短回答。', '你是一个乐于助人的助手。')

_WORD_LIST = """
able acid aged also area army away baby back ball band bank base bath bear beat bell belt best bird blow blue boat
body bone book boot born boss both bowl burn bush busy cake call calm camp card care cart case cash cast cell chat
chin city clay club coal coat code cold cook cool cope copy core corn cost crew crop cure dark data date dawn deal
dear debt deck deep deer desk diet dirt dish dock door dose down draw drop drum duck dust duty earn east easy edge
else even ever face fact fade fail fair fall farm fast fate fear feed feel file fill film find fine fire firm fish
five flag flat flow folk food foot form fort four free frog fuel full fund gain game gate gift girl give glad goal
gold golf good grey grow hair half hall hand hang hard harm hate have head hear heat help hero hide high hill hire
hold hole home hope horn host hour huge hunt idea inch iron item jail joke jump jury keen keep kick kind king kiss
kite knee knot lack lady lake lamp land lane last late lead leaf lean left lend life lift like line link lion list
live load loan lock long look lord lose loss loud love luck lung made mail main make male many mark mask mass meal
mean meat meet melt menu mild milk mind mine miss mode moon more most move much must name navy near neck need nest
news next nice nine node none noon nose note okay once only open oven over pack page pain pair palm park part pass
past path peak pick pile pine pink pipe plan play plot plug poem poet pole pool poor port pose post pour pray pull
pump pure push quit race rail rain rank rare rate read real rear rely rent rest rice rich ride ring rise risk road
rock role roll roof room root rope rose rule rush safe sail sale salt same sand save seat seed seek self sell send
ship shoe shop shot show shut sick side sign silk sing sink site size skin slip slow snow soap sock soft soil sole
song soon sort soul soup spin spot star stay step stir stop suit sure swim tail take tale talk tall tank tape task
team tear tell tend tent term test text than that them then they thin this tide tidy tile time tiny tire told toll
tone tool tour town tree trip true tube tune turn twin type unit upon user vast very view vote wage wait wake walk
wall want warm wash wave weak wear week well west what when whom wide wife wild will wind wine wing wire wise wish
with wolf wood wool word work yard year zero zone
ant bag bat bed bee big box boy bus cap car cat cow cry cup cut day dig dog dry ear egg end eye fan fat fig fit fly
fox fun gas gum gun hat hen hot hug ice ink jam jar jet joy key kid lab lap leg lid lip log map mat mix mud net nut
oak oil owl pan pen pet pie pig pin pot rat red rug run sad sea sky sun tap tea ten tin toe top toy van war web wet
win yes zip
apple bread chair cloud dance dream earth field flame fruit glass grass green heart horse house juice knife laugh
lemon light money mouse music night ocean paper party peace phone plant queen river salad sheep shirt smile snake
sound space spoon storm sugar table tiger toast train water whale wheel world
"""
WORDS = tuple(_WORD_LIST.split())
_ONES_TEXT = 'zero one two three four five six seven eight nine ten eleven twelve thirteen fourteen fifteen sixteen '
ONES = tuple((_ONES_TEXT + 'seventeen eighteen nineteen twenty').split())
ZH_DIGITS = '零一二三四五六七八九十'
COUPLETS = (
    ('床前明月光', '疑是地上霜'), ('举头望明月', '低头思故乡'), ('白日依山尽', '黄河入海流'),
    ('欲穷千里目', '更上一层楼'), ('春眠不觉晓', '处处闻啼鸟'), ('夜来风雨声', '花落知多少'),
    ('锄禾日当午', '汗滴禾下土'), ('谁知盘中餐', '粒粒皆辛苦'), ('离离原上草', '一岁一枯荣'),
    ('野火烧不尽', '春风吹又生'), ('红豆生南国', '春来发几枝'), ('愿君多采撷', '此物最相思'),
    ('千山鸟飞绝', '万径人踪灭'), ('孤舟蓑笠翁', '独钓寒江雪'), ('空山不见人', '但闻人语响'),
    ('海内存知己', '天涯若比邻'), ('慈母手中线', '游子身上衣'), ('国破山河在', '城春草木深'),
    ('好雨知时节', '当春乃发生'), ('随风潜入夜', '润物细无声'),
    ('To be, or not to be', 'that is the question'), ('Friends, Romans, countrymen', 'lend me your ears'),
    ('Shall I compare thee', "to a summer's day"), ('Now is the winter', 'of our discontent'),
    ('If music be the food of love', 'play on'), ('A horse! a horse!', 'my kingdom for a horse!'),
)  # fmt: skip


def say_zh(n: int) -> str:
    """0-99 in Chinese numerals: 七, 十二, 二十."""
    if n <= 10:
        return ZH_DIGITS[n]
    tens, ones = divmod(n, 10)
    return (ZH_DIGITS[tens] if tens > 1 else '') + '十' + (ZH_DIGITS[ones] if ones else '')


@dataclass(frozen=True)
class Task:
    """One kind of task: its phrasings (English and Chinese) and how an item becomes a prompt and an answer."""

    kind: str
    phrasings: tuple[str, ...]

    def items(self, rng: random.Random) -> list[Any]:
        """Every item this task asks about."""
        raise NotImplementedError

    def answer(self, item: Any, phrasing: str) -> str:
        raise NotImplementedError

    def prompt(self, item: Any, phrasing: str) -> str:
        return phrasing.format(item=item)


class WordTask(Task):
    """An operation on a word; held out by word."""

    def items(self, rng: random.Random) -> list[Any]:
        return list(WORDS)


class Spell(WordTask):
    def answer(self, item: str, phrasing: str) -> str:
        return '-'.join(item)


class Reverse(WordTask):
    def answer(self, item: str, phrasing: str) -> str:
        return item[::-1]


class Count(WordTask):
    def answer(self, item: str, phrasing: str) -> str:
        return str(len(item))


class Upper(WordTask):
    def answer(self, item: str, phrasing: str) -> str:
        return item.upper()


class Add(Task):
    def items(self, rng: random.Random) -> list[Any]:
        return [(a, b) for a in range(10) for b in range(10)]

    def prompt(self, item: tuple[int, int], phrasing: str) -> str:
        return phrasing.format(a=item[0], b=item[1])

    def answer(self, item: tuple[int, int], phrasing: str) -> str:
        return str(item[0] + item[1])


class Say(Task):
    """A number in the language the prompt asks for (English words or Chinese numerals), asked in either."""

    def items(self, rng: random.Random) -> list[Any]:
        return [(n, lang) for n in range(21) for lang in ('en', 'zh')]

    def prompt(self, item: tuple[int, str], phrasing: str) -> str:
        n, lang = item
        target = {'en': ('English', '英文'), 'zh': ('Chinese', '中文')}[lang]
        return phrasing.format(n=n, lang=target[1] if _is_zh(phrasing) else target[0])

    def answer(self, item: tuple[int, str], phrasing: str) -> str:
        n, lang = item
        return ONES[n] if lang == 'en' else say_zh(n)


class Verse(Task):
    def items(self, rng: random.Random) -> list[Any]:
        return list(COUPLETS)

    def prompt(self, item: tuple[str, str], phrasing: str) -> str:
        return phrasing.format(line=item[0])

    def answer(self, item: tuple[str, str], phrasing: str) -> str:
        return item[1]


def _is_zh(text: str) -> bool:
    return any('\u4e00' <= c <= '\u9fff' for c in text)


TASKS = (
    Spell('spell', ('Spell {item}.', 'How do you spell {item}?', '拼写 {item}', '请拼写 {item}。')),
    Reverse('reverse', ('Reverse {item}.', 'Write {item} backwards.', '把 {item} 倒过来', '倒着写 {item}')),
    Count('count', ('How many letters in {item}?', 'Count the letters of {item}.', '{item} 有几个字母？')),
    Upper('upper', ('Uppercase {item}.', 'Write {item} in capitals.', '把 {item} 写成大写')),
    Add('add', ('What is {a} + {b}?', 'Add {a} and {b}.', '{a} + {b} = ?', '{a} 加 {b} 等于几？', '计算 {a} + {b}')),
    Say(
        'say',
        (
            'Say {n} in {lang}.',
            'Write {n} in {lang}.',
            'What is {n} in {lang}?',
            '用{lang}说 {n}',
            '{n} 用{lang}怎么写？',
            '{n} 的{lang}是什么？',
        ),
    ),
    Verse('verse', ('Continue: {line}', 'Next line: {line}', '下一句：{line}', '接着写：{line}')),
)
KINDS = tuple(t.kind for t in TASKS)


def _held_out_words(rng: random.Random) -> set[str]:
    """The words no word task trains on (the same for every word task)."""
    words = sorted(set(WORDS))
    rng.shuffle(words)
    return set(words[: int(len(words) * HELD_OUT_SHARE)])


def _pairs(task: Task, rng: random.Random, held_words: set[str]) -> dict[str, list[tuple[Any, str]]]:
    """(item, phrasing) pairs of one task for train and val; no val prompt is a train prompt."""
    items = task.items(rng)
    if isinstance(task, WordTask):
        return {
            'train': [(w, p) for w in sorted(set(items) - held_words) for p in task.phrasings],
            'val': [(w, rng.choice(task.phrasings)) for w in sorted(held_words)],
        }
    pairs = [(item, p) for item in items for p in task.phrasings]
    rng.shuffle(pairs)
    val: list[tuple[Any, str]] = []
    held_items: set[Any] = set()
    for item, p in pairs:  # at most one held-out phrasing per fact: the fact itself is always taught
        if len(val) < len(pairs) * HELD_OUT_SHARE and item not in held_items:
            val.append((item, p))
            held_items.add(item)
    train = [pair for pair in pairs if pair not in val]
    return {'train': train, 'val': val}


def _conversation(task: Task, item: Any, phrasing: str, rng: random.Random) -> dict[str, Any]:
    messages = [
        {'role': 'user', 'content': task.prompt(item, phrasing)},
        {'role': 'assistant', 'content': task.answer(item, phrasing)},
    ]
    system = rng.choice(SYSTEMS)
    if rng.random() < SYSTEM_SHARE and _char_tokens([{'content': system}, *messages]) <= MAX_TOKENS:
        messages.insert(0, {'role': 'system', 'content': system})
    return {'messages': messages, 'kind': task.kind}


def _char_tokens(messages: list[dict[str, str]]) -> int:
    """Tokens with a char tokenizer: each character, plus a start and an end token per message."""
    return sum(len(m['content']) + 2 for m in messages)


def generate(seed: int = 1337) -> dict[str, list[dict[str, Any]]]:
    """The whole set: train and val conversations, shuffled, the same for the same seed."""
    rng = random.Random(seed)
    out: dict[str, list[dict[str, Any]]] = {'train': [], 'val': []}
    held_words = _held_out_words(rng)
    for task in TASKS:
        for split, pairs in _pairs(task, rng, held_words).items():
            out[split] += [_conversation(task, item, p, rng) for item, p in pairs]
    for split in out:
        rng.shuffle(out[split])
    return out


def iter_prompts(splits: dict[str, list[dict[str, Any]]]) -> Iterator[tuple[str, str]]:
    """(split, first user prompt) for every conversation."""
    for split, convs in splits.items():
        for c in convs:
            yield split, next(m['content'] for m in c['messages'] if m['role'] == 'user')


def prepare_lab_tasks(folder: Path, seed: int = 1337, emit: Emit = null_emit) -> Path:
    """`nanogpt-lab prepare lab-tasks`: generate and write the set into `folder`."""
    splits = generate(seed)
    source = {'kind': LAB_TASKS, 'version': VERSION, 'seed': seed, 'kinds': list(KINDS)}
    return write_conversations(folder, splits, source, emit)
