"""How another program uses an exported folder: a Python snippet per format (transformers for the Hugging Face
folder, onnxruntime for ONNX) and per tokenizer (GPT-2 BPE, a trained BPE, SentencePiece unigram, characters).

One source for the folder's README and the lab's export panel, so what a learner copies is what the README says.
Torch-free: the panel imports it at page load.
"""

from __future__ import annotations

import json
from pathlib import Path

from nanogpt_lab.export.folder_writer import PROVENANCE

PROMPT = 'ROMEO:'
NEW_TOKENS = 200

# text -> ids and ids -> text for each tokenizer kind; {folder} is the exported folder's path
_TOKENIZERS = {
    'gpt2': (
        ['from transformers import AutoTokenizer', 'tok = AutoTokenizer.from_pretrained({folder})'],
        'ids = tok({prompt})["input_ids"]',
        'tok.decode({ids})',
    ),
    'bpe': (
        ['from transformers import AutoTokenizer', 'tok = AutoTokenizer.from_pretrained({folder})'],
        'ids = tok({prompt})["input_ids"]',
        'tok.decode({ids})',
    ),
    'unigram': (
        ['import sentencepiece as spm', "sp = spm.SentencePieceProcessor(model_file={folder} + '/tokenizer.model')"],
        'ids = sp.encode({prompt})',
        'sp.decode({ids})',
    ),
    'char': (
        [
            'import json',
            "chars = json.load(open({folder} + '/char_vocab.json', encoding='utf-8'))['chars']  # index = token id",
            'stoi = {{c: i for i, c in enumerate(chars)}}',
        ],
        'ids = [stoi[c] for c in {prompt}]  # every character must be one the model knows',
        "''.join(chars[i] for i in {ids})",
    ),
}


def python_snippet(folder: str, fmt: str, tokenizer: str, block_size: int) -> str:
    """A runnable Python snippet that samples from the exported folder `folder` (format 'hf' or 'onnx')."""
    setup, encode, decode = _TOKENIZERS[tokenizer]
    where, prompt = json.dumps(folder), json.dumps(PROMPT)
    lines = [line.format(folder=where) for line in setup] + [encode.format(prompt=prompt)]
    if fmt == 'hf':
        return '\n'.join(
            [
                'import torch',
                'from transformers import GPT2LMHeadModel',
                f'model = GPT2LMHeadModel.from_pretrained({where})',
                *lines,
                f'out = model.generate(torch.tensor([ids]), max_new_tokens={NEW_TOKENS}, do_sample=True, top_k=200)',
                f'print({decode.format(ids="out[0].tolist()")})',
            ]
        )
    return '\n'.join(
        [
            'import numpy as np',
            'import onnxruntime as ort',
            f"session = ort.InferenceSession({where} + '/model.onnx')",
            *lines,
            f'for _ in range({NEW_TOKENS}):  # greedy: the likeliest next token each time',
            f'    window = np.array([ids[-{block_size}:]], dtype=np.int64)  # at most block_size tokens of context',
            "    logits = session.run(['logits'], {'input_ids': window})[0]",
            '    ids.append(int(logits[0, -1].argmax()))',
            f'print({decode.format(ids="ids")})',
        ]
    )


def folder_snippet(folder: Path) -> str:
    """The snippet for an exported folder, from what its provenance.json says (format, tokenizer, block_size)."""
    record = json.loads((folder / PROVENANCE).read_text(encoding='utf-8'))
    block = int(record['model_args']['block_size'])
    return python_snippet(str(folder), record['export'], record['tokenizer'], block)
