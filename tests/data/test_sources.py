"""Bad input gets a clear DataError: empty, binary, not UTF-8 (with the byte offset), too small, too many characters."""

from __future__ import annotations

import json
import time

import pytest

from nanogpt_lab.data import DataError
from nanogpt_lab.data import sources as sources_module
from nanogpt_lab.data.sources import TextReader, resolve_input

PNG = b'\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR' + bytes(64)


def test_empty_inputs(run, tmp_path):
    (tmp_path / 'empty.txt').write_bytes(b'')
    with pytest.raises(DataError, match='is empty'):
        run(dataset='custom', input=str(tmp_path / 'empty.txt'))
    (tmp_path / 'blank.jsonl').write_text('\n\n')
    with pytest.raises(DataError, match='is empty'):
        run(dataset='custom', input=str(tmp_path / 'blank.jsonl'))
    (tmp_path / 'folder').mkdir()
    (tmp_path / 'folder' / 'x.csv').write_text('a,b')
    with pytest.raises(DataError, match=r'no \.txt or \.md files'):
        run(dataset='custom', input=str(tmp_path / 'folder'))


def test_a_png_renamed_txt_is_named(run, tmp_path):
    (tmp_path / 'picture.txt').write_bytes(PNG)
    with pytest.raises(DataError, match='looks like a PNG image'):
        run(dataset='custom', input=str(tmp_path / 'picture.txt'))
    (tmp_path / 'picture.jsonl').write_bytes(PNG)
    with pytest.raises(DataError, match='looks like a PNG image'):
        run(dataset='custom', input=str(tmp_path / 'picture.jsonl'))


def test_nul_bytes_and_utf16_are_binary(run, tmp_path):
    (tmp_path / 'nul.txt').write_bytes(b'plain text\x00more')
    with pytest.raises(DataError, match='NUL byte at byte offset 10'):
        run(dataset='custom', input=str(tmp_path / 'nul.txt'))
    (tmp_path / 'utf16.txt').write_bytes('hello'.encode('utf-16'))
    with pytest.raises(DataError, match='UTF-16'):
        run(dataset='custom', input=str(tmp_path / 'utf16.txt'))


def test_not_utf8_names_the_byte_offset(run, tmp_path):
    (tmp_path / 'latin1.txt').write_bytes('naïve café'.encode('latin-1'))
    with pytest.raises(DataError, match=r'byte 0xef at byte offset 2'):
        run(dataset='custom', input=str(tmp_path / 'latin1.txt'))
    (tmp_path / 'cut.txt').write_bytes('ok 你好'.encode()[:-1])  # ends inside a character
    with pytest.raises(DataError, match='byte offset 6'):
        run(dataset='custom', input=str(tmp_path / 'cut.txt'))


def test_offsets_are_absolute_across_chunks_and_split_characters_are_fine(monkeypatch, tmp_path):
    monkeypatch.setattr(sources_module, 'CHUNK_BYTES', 5)
    good = tmp_path / 'good.txt'
    good.write_text('你好世界🙂 and more 中文\r\nline\rend\r', encoding='utf-8')
    assert ''.join(p for p in TextReader(resolve_input(good)) if p) == good.read_text(encoding='utf-8')
    bad = tmp_path / 'bad.txt'
    bad.write_bytes('你好世界🙂 ok'.encode() + b'\xff' + b' tail')
    with pytest.raises(DataError, match='byte offset 19'):
        list(TextReader(resolve_input(bad)))


def test_jsonl_errors_name_the_line(run, tmp_path):
    src = tmp_path / 'd.jsonl'
    src.write_text(json.dumps({'text': 'fine'}) + '\n{"text": broken\n')
    with pytest.raises(DataError, match='line 2 is not valid JSON'):
        run(dataset='custom', input=str(src))
    src.write_text(json.dumps({'text': 'fine'}) + '\n' + json.dumps({'body': 'x'}) + '\n')
    with pytest.raises(DataError, match='line 2 needs a "text" field'):
        run(dataset='custom', input=str(src))
    (tmp_path / 'd.json').write_text('[]')
    with pytest.raises(DataError, match='JSON Lines'):
        run(dataset='custom', input=str(tmp_path / 'd.json'))


def test_too_small_for_a_validation_split(run, tmp_path):
    src = tmp_path / 'small.txt'
    src.write_text('xy' * 250)  # val gets 50 characters; block_size 64 needs 65 (one repeated character is refused)
    with pytest.raises(DataError, match='val split has 50 tokens, but block_size 64 needs at least 65'):
        run(dataset='custom', input=str(src), tokenizer='char')
    with pytest.raises(DataError, match='val split has'):
        run(dataset='custom', input=str(src), tokenizer='gpt2')  # 'xxxx' merges: even fewer tokens
    folder, _ = run(dataset='custom', input=str(src), tokenizer='char', block_size=32)
    assert (folder / 'val.bin').stat().st_size == 100


def test_char_vocabulary_over_65535_is_refused(run, tmp_path):
    chars = [chr(c) for c in range(0x100, 0x100 + 65_536 + 2048) if not 0xD800 <= c < 0xE000]
    assert len(chars) > 65_535
    src = tmp_path / 'many.txt'
    src.write_text(''.join(chars) * 2, encoding='utf-8')
    with pytest.raises(DataError, match='65,536 distinct characters.*at most 65,535.*--tokenizer gpt2'):
        run(dataset='custom', input=str(src), tokenizer='char')


def test_a_huge_binary_file_is_rejected_without_reading_it(run, tmp_path):
    big = tmp_path / 'huge.txt'
    with open(big, 'wb') as f:
        f.write(b'looks like text at first\n' * 100)
        f.truncate(8 << 30)  # 8 GiB, sparse: zeros from byte 2,500 on
    t0 = time.perf_counter()
    with pytest.raises(DataError, match='NUL byte at byte offset 2500'):
        run(dataset='custom', input=str(big))
    assert time.perf_counter() - t0 < 10  # one 4 MiB chunk was read, not 8 GiB
    assert not (tmp_path / 'data' / 'huge').exists()


@pytest.mark.parametrize(
    ('name', 'content', 'extra', 'code'),
    [
        ('empty.txt', b'', {}, 'data.empty'),
        ('picture.txt', PNG, {}, 'data.binary'),
        ('nul.txt', b'text\x00more', {}, 'data.nul_byte'),
        ('latin1.txt', 'naïve café'.encode('latin-1'), {}, 'data.not_utf8'),
        ('utf16.txt', 'hello'.encode('utf-16'), {}, 'data.utf16'),
        ('short.txt', b'abcdefghij' * 3, {'block_size': 8}, 'data.too_small'),
        ('wide.txt', ''.join(map(chr, range(0x10000, 0x10000 + 66_000))).encode(), {}, 'data.char_vocab'),
        ('d.jsonl', b'{"text": broken\n', {}, 'data.jsonl_invalid'),
        ('e.jsonl', b'{"body": "x"}\n', {}, 'data.jsonl_no_text'),
    ],
)
def test_each_problem_has_the_code_pages_translate(run, tmp_path, name, content, extra, code):
    from nanogpt_lab.messages import catalog

    (tmp_path / name).write_bytes(content)
    with pytest.raises(DataError) as raised:
        run(dataset='custom', input=str(tmp_path / name), **extra)
    assert raised.value.code == code
    assert raised.value.params['path'].endswith(name)
    assert code in catalog('zh-CN') and raised.value.message('zh-CN') != str(raised.value)
