"""What `nanogpt-lab sim record` records: each asset's recipe, as the `nanogpt-lab train` arguments that make it.

Every run starts from nanoGPT's README "CPU / MacBook" command for tiny Shakespeare (`BABY`) and changes only
what its comparison is about, so the curves a page puts side by side differ in one thing.
"""

from __future__ import annotations

from dataclasses import dataclass

from nanogpt_lab.config import DPO_PRESET, GPT_PAIR

# nanoGPT's README CPU command (with config/train_shakespeare_char.py): 4 layers, 4 heads, 128 wide, block 64
BABY = (
    'config/train_shakespeare_char.py',
    '--device=cpu',
    '--compile=False',
    '--eval_iters=20',
    '--log_interval=1',
    '--block_size=64',
    '--batch_size=12',
    '--n_layer=4',
    '--n_head=4',
    '--n_embd=128',
    '--max_iters=2000',
    '--lr_decay_iters=2000',
    '--dropout=0.0',
)
SAMPLES = ('--eval_sample_tokens=200',)  # a sample at every eval: the pages show text improving as loss falls


@dataclass(frozen=True)
class Recipe:
    """One asset: its name, what kind of thing it is, how it is shown, and the arguments that make it."""

    name: str
    kind: str  # run | dataset | model | dpo
    groups: tuple[str, ...]  # the comparisons it takes part in (a page shows a group's assets together)
    title: str
    args: tuple[str, ...] = ()  # `nanogpt-lab train` arguments (runs, model); data_dir/out_dir/threads are added
    dataset: str = ''  # which prepared dataset the run reads (prepared first)
    loop: str = 'train'  # train | finetune | sft | dpo: the command (its preset under the arguments, config.run_preset)
    init_from_recipe: str = ''  # start from this recorded run's checkpoint (recorded first if missing)
    note: str = ''


def _run(
    name: str,
    groups: tuple[str, ...],
    title: str,
    *extra: str,
    kind: str = 'run',
    dataset: str = 'shakespeare_char',
    note: str = '',
) -> Recipe:
    """A recipe built on the baby command; later flags override earlier ones, as on nanoGPT's command line."""
    return Recipe(name, kind, groups, title, (*BABY, *SAMPLES, *extra), dataset=dataset, note=note)


DATASETS = (
    Recipe(
        'dataset-shakespeare_char',
        'dataset',
        ('datasets',),
        'tiny Shakespeare, character level',
        dataset='shakespeare_char',
    ),
    Recipe('dataset-shakespeare', 'dataset', ('datasets',), 'tiny Shakespeare, GPT-2 BPE', dataset='shakespeare'),
    Recipe(
        'dataset-tang_poems',
        'dataset',
        ('datasets',),
        'The Tang poems (chinese-poetry), simplified characters, character level',
        dataset='tang_poems',
    ),
    Recipe(
        'dataset-dialogue',
        'dataset',
        ('datasets',),
        'Dialogue (chatterbot-corpus, English and Chinese), character level',
        dataset='dialogue',
    ),
    Recipe(
        'dataset-shakespeare_sentencepiece',
        'dataset',
        ('datasets', 'gpt-pair'),
        'tiny Shakespeare, a 2,000-token SentencePiece unigram trained on its training split',
        dataset='shakespeare_sentencepiece',
    ),
    Recipe(
        'dataset-sotu-for-openwebtext',
        'dataset',
        ('datasets',),
        'State of the Union addresses 1946-2026 (GPT-2 BPE), standing in for OpenWebText',
        dataset='sotu',
        note='OpenWebText (~54 GB of web text) is too big to record here; the 92 public-domain State of the Union '
        'addresses are prepared by the same OpenWebText pipeline (documents, GPT-2 BPE, <|endoftext|> between '
        'them, split by document). They are formal speeches, not web text: token statistics are realistic for '
        'English prose, not for OpenWebText itself.',
    ),
)

RUNS = (
    _run(
        'baby-char-2000',
        ('baseline',),
        "nanoGPT's CPU baby model on tiny Shakespeare (char), 2000 iterations",
        note="nanoGPT's README reports val ≈ 1.88 for this command.",
    ),
    _run(
        'tiny-shakespeare-char',
        ('bundled-model',),
        'The bundled tiny model: 6 layers, 128 wide, block 128, char-level Shakespeare',
        '--n_layer=6',
        '--block_size=128',
        '--max_iters=5000',
        '--lr_decay_iters=5000',
        '--eval_interval=250',
        kind='model',
        note='Exported as a Hugging Face folder (float32, ~1.2M parameters, < 5 MB) with char_vocab.json.',
    ),
    *(
        _run(
            f'ln-{pos}-16-layers',
            ('ln-position',),
            f'{"Pre" if pos == "pre" else "Post"}-LN, 16 layers, no warmup',
            '--n_layer=16',
            '--n_embd=64',
            '--warmup_iters=0',
            '--max_iters=1000',
            '--lr_decay_iters=1000',
            '--eval_interval=100',
            f'--ln_position={pos}',
            note='Depth 16, 64 wide, learning rate 1e-3 with no warmup: post-LN stalls, pre-LN trains. Found by '
            'trying (short exploratory runs, not shipped): with 100 warmup iterations the two nearly coincide at 12 '
            'and 24 layers; without warmup post-LN lags at 12 layers and stalls at 16 and 24.',
        )
        for pos in ('pre', 'post')
    ),
    *(
        _run(
            f'lr-{lr}',
            ('lr-sweep', 'char-vs-bpe') if lr == '1e-3' else ('lr-sweep',),
            f'Learning rate {lr}, 1000 iterations',
            f'--learning_rate={lr}',
            f'--min_lr={float(lr) / 10:g}',
            '--max_iters=1000',
            '--lr_decay_iters=1000',
            '--eval_interval=100',
        )
        for lr in ('1e-4', '1e-3', '1e-2', '1e-1')
    ),
    _run(
        'batch-12-accum-4',
        ('batch-vs-accumulation',),
        'Batch 12 × gradient accumulation 4 (3,072 tokens per step)',
        '--gradient_accumulation_steps=4',
        '--max_iters=500',
        '--lr_decay_iters=500',
        '--eval_interval=50',
    ),
    _run(
        'batch-48',
        ('batch-vs-accumulation',),
        'Batch 48, no accumulation (3,072 tokens per step)',
        '--batch_size=48',
        '--max_iters=500',
        '--lr_decay_iters=500',
        '--eval_interval=50',
    ),
    _run(
        'bpe-shakespeare-1000',
        ('char-vs-bpe', 'finetune'),
        'The baby model on tiny Shakespeare with GPT-2 BPE, 1000 iterations',
        '--dataset=shakespeare',
        '--max_iters=1000',
        '--lr_decay_iters=1000',
        '--eval_interval=100',
        dataset='shakespeare',
        note='Equal compute with lr-1e-3 (the same command on characters): the same model body (4 layers, 4 heads, '
        '128 wide), the same steps, batch and block (768 tokens per step), so the same transformer FLOPs; only the '
        'vocabulary (and so the embedding and output layer, 65 vs 50,304 rows) differs. Per-token losses are '
        'not comparable across tokenizers: multiply by tokens per character (val: 36,059 / 111,540) for loss '
        'per character.',
    ),
    _run(
        'pretrain-sotu-bpe',
        ('finetune',),
        'Our small GPT-2-style model pretrained on the State of the Union corpus (BPE)',
        '--dataset=sotu',
        '--max_iters=1000',
        '--lr_decay_iters=1000',
        '--eval_interval=100',
        dataset='sotu',
        note='Stands in for GPT-2 pretrained on WebText: the base model that finetune-shakespeare fine-tunes.',
    ),
    Recipe(
        'finetune-shakespeare',
        'run',
        ('finetune',),
        'Fine-tuning the State-of-the-Union model on tiny Shakespeare (BPE), with early stopping',
        # on top of the fine-tuning defaults (constant learning rate, early stopping, only the best checkpoint kept)
        (
            '--device=cpu',
            '--compile=False',
            '--eval_iters=20',
            '--log_interval=1',
            '--batch_size=12',
            '--gradient_accumulation_steps=1',  # 768 tokens per step, as in pretraining
            '--block_size=64',
            '--n_layer=4',  # the base model's shape (its checkpoint decides; stated so the config tells the truth)
            '--n_head=4',
            '--n_embd=128',
            '--dataset=shakespeare',
            '--learning_rate=3e-4',  # constant, below pretraining's 1e-3 peak: adjust the base, do not overwrite it
            '--max_iters=1000',
            '--eval_interval=20',
            '--early_stopping_patience=3',
            *SAMPLES,
        ),
        dataset='shakespeare',
        loop='finetune',
        init_from_recipe='pretrain-sotu-bpe',
        note="Like nanoGPT's finetune_shakespeare.py (GPT-2 → Shakespeare) in miniature; compare with "
        'bpe-shakespeare-1000, the same model trained on Shakespeare from scratch.',
    ),
)


def _pair_run(side: str) -> Recipe:
    """One side of stage 4's GPT-1 vs GPT-2 pair (config.GPT_PAIR) on the baby model's body and optimizer."""
    train = GPT_PAIR[side]['train']
    title = {
        'gpt1': 'GPT-1 side: post-LN, SentencePiece unigram (2,000), context 128',
        'gpt2': 'GPT-2 side: pre-LN, characters, context 256',
    }[side]
    return _run(
        f'gpt-pair-{side}',
        ('gpt-pair',),
        title,
        *(f'--{key}={value}' for key, value in train.items()),
        '--max_iters=400',
        '--lr_decay_iters=400',
        '--eval_interval=50',
        dataset=train['dataset'],
        note='The same text, model body (4 layers, 4 heads, 128 wide), optimizer and batch (12 sequences) on both '
        "sides; each side keeps its own tokenizer, LayerNorm place and context, as in the plan's table. A GPT-1 "
        'step reads 12 x 128 unigram tokens (~2.5 characters each), a GPT-2 step 12 x 256 characters: about the '
        'same text per step. Compare them in bits per character: a nat per token is a different unit on each side.',
    )


RUNS = (*RUNS, _pair_run('gpt1'), _pair_run('gpt2'))
# Stage 7: the bundled chat model is the bundled tiny model after SFT on lab-tasks with the SFT preset (shorter);
# its DPO on lab-preferences is what stage 7's Watch it and report card replay
ALIGNMENT = (
    Recipe(
        'chat-lab-tasks',
        'model',
        ('bundled-chat', 'sft'),
        'The bundled chat model: the bundled tiny model after SFT on lab-tasks',
        ('--init_from=bundled', '--dataset=lab-tasks', '--device=cpu', '--compile=False', '--max_iters=600',
         '--lr_decay_iters=600', '--eval_interval=200'),
        dataset='lab-tasks',
        loop='sft',
        note='Exported as a Hugging Face folder with chat.json (float16 weights, ~1.2M parameters); its held-out '
        'exact match per task, before (the base with the template attached, nothing learned) and after SFT, and the '
        'x-ray of held-out conversations were measured on the exported weights.',
    ),
    Recipe(
        'dpo-lab-tasks',
        'dpo',
        ('dpo',),
        'DPO of the bundled chat model on lab-preferences (its own answers, labelled by the task checkers)',
        ('--init_from=bundled-chat', '--dataset=lab-preferences', '--device=cpu', '--compile=False'),
        dataset='lab-preferences',
        loop='dpo',
        note=f'The DPO preset ({DPO_PRESET["max_iters"]} steps of {DPO_PRESET["batch_size"]} pairs, beta '
        f'{DPO_PRESET["beta"]}) from the bundled chat model, on pairs it answered '
        'itself (prepare lab-preferences --from=bundled-chat); the report card (base -> SFT -> DPO, with before '
        'and after answers to the same held-out prompts) was measured on the run when it ended. No weights are kept.',
    ),
)  # fmt: skip

RECIPES: dict[str, Recipe] = {r.name: r for r in (*DATASETS, *RUNS, *ALIGNMENT)}
# how the recorder prepares a dataset that is not simply `prepare NAME` (it adds the input file or folder)
DATASET_CONFIGS = {
    'shakespeare_sentencepiece': GPT_PAIR['gpt1']['data'],
    'tang_poems': {'dataset': 'tang_poems', 'simplified': True},
}
# the dataset each stage-1 card shows in simulation mode → its recorded asset
DATASET_ASSETS = {
    'shakespeare_char': 'dataset-shakespeare_char',
    'shakespeare': 'dataset-shakespeare',
    'openwebtext': 'dataset-sotu-for-openwebtext',
    'tang_poems': 'dataset-tang_poems',
    'dialogue': 'dataset-dialogue',
}
