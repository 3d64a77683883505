"""The Tang poems of chinese-poetry (MIT): 57,607 poems of 全唐诗 as one text, for a char model that writes verse.

Where the poems come from, in order: `--input FOLDER` (the user's copy: chinese-poetry's `poet.tang.N.json` files,
in the folder itself or in its `quantangshi/` or `全唐诗/` subfolder), else the 58 files already downloaded into the
dataset folder, else the npm package `chinese-poetry` 2.0.1 (the same JSON the project's GitHub repository keeps),
downloaded once from the npm registry with a progress bar; the archive and every file are sha256-checked.

Each poem becomes its title, its lines, and a blank line. Editorial notes in full-width parentheses (「一作…」
variant readings) are dropped, a bracketed uncertain character keeps the character, and the few poems with a
{composed} character that Unicode lacks are left out. `--simplified=True` converts traditional characters to
simplified with OpenCC (t2s).
"""

from __future__ import annotations

import json
import re
import tarfile
from collections.abc import Iterator
from pathlib import Path

from nanogpt_lab.config import DataConfig
from nanogpt_lab.data.download import download
from nanogpt_lab.data.errors import DataError
from nanogpt_lab.events import Emit, emit_log
from nanogpt_lab.fileio import atomic_write_bytes, atomic_write_text, sha256_of

LICENSE = 'MIT (chinese-poetry, copyright 2016 JackeyGao)'
HOMEPAGE = 'https://github.com/chinese-poetry/chinese-poetry'
ARCHIVE_URL = 'https://registry.npmjs.org/chinese-poetry/-/chinese-poetry-2.0.1.tgz'
ARCHIVE_SHA256 = '25b549e46919c3a0569db6b68ddc96956b04a484ea4518ad2bbd4f137e307e86'  # npm's sha512 checks out too
ARCHIVE_FOLDER = 'package/dist/quantangshi/'
SUBFOLDERS = ('', 'quantangshi', '全唐诗')
CACHE = 'quantangshi'  # where the downloaded files stay, inside the dataset folder
# sha256 of each poet.tang.N.json as chinese-poetry 2.0.1 ships it (N = 0, 1000, ..., 57000)
FILE_SHA256 = {
    0: '4f88f429938082523cdc72a1612bd7a7c3e3f7a33f8192c61ae51340efc3c92d',
    1000: '6e703b8d8dcedbd6110f6d48d043665ca2131db2035a5bfcef5e59a19aeb6d75',
    2000: 'ec28efa7e2ae9cdbbba09f0ed186e32ccae47a325ad1e5816b7ad56071c1665a',
    3000: '9e4ba2323752b6b9fbdba875cdbc6a26636fe0cabc85fd066370d4915952001f',
    4000: 'b8a7946c879b9658a6c667a4c55f776fae7e5e00a17789ab06b274c1429afc66',
    5000: 'a0306e6962cff01639ad9a00b042a201b8dec1f30fa5d768a7b112589887861e',
    6000: '982a21d2b15922b406911f1c825785054314c686da86b2155d7aebb362d22771',
    7000: 'a6fb69d7b4343c904dc56ae5aae34facc2478d196b51c37ceba9d1e2f171b342',
    8000: 'ac3848e95b02736168003863795de4474838c2d6a71a24ca2a4a280ea5177773',
    9000: 'b99d6596e3a1fe1a661652383083f92d196b8baf4e461d087081d5e1e1b7a51f',
    10000: 'b97d1c5509ab62f5b433dee2020c11c4deda4542e276683d1ada6619c34c2113',
    11000: '9adf1835246053c821d99af39ce9092e14a94e1baf91740098bd9fc6f6f1cd27',
    12000: 'ec43d055a219d52ecdb58cd30a8a444189392f0d68b92a41495df1c72c5fd095',
    13000: 'eb9c85072d7913bb972e07c72f0123e9d7addca22cfd833cb79a5d74b1c76ebf',
    14000: '1e366dd3fb5a011091524bed36e4edff5d015bf0ddb14143f298515387dbd9a9',
    15000: '0386e58f46517daa3af0e0f385e0223f1efc0dac53afbe8fea64f99074d870b7',
    16000: '1c477aef1fc50523f9baf10f29d2d89201a14c4c73001c1c041d0fe8464d11db',
    17000: '11bac8333b2042975b9844423d113ff2c6fdf701c8b08a5b3aaa6bc9472222de',
    18000: '37543a147d16e3576d5f45ba8f7b8b51fc311bc10eddae9440f16f2d5ae885c2',
    19000: 'dea74b41bc807ce2527bb119862a251e3a92b6f69bdf9f98b1434a8336830542',
    20000: '8ccf0783888b15bec60d0253e278cd4b67e94a77725df8ed079d4d8062d050b4',
    21000: 'bddae814c82bf6a9fd294504aa48794bca5f03e986110739b1577aa811125cbd',
    22000: 'd7e7efe3f67415455ae93974a5aa67427e99f6713fde27920bfb657ad3204c4a',
    23000: '220a535a762349ec1beed00f1dc11293ccefc70bda15c5258bbcab208b14337f',
    24000: '2f40a4ec0e4469c29f0f028d7a4ad73b83850aa271be9b63ea0c08de6e094dee',
    25000: '7e7c00ba3f7a95e97de5440f85affa9d54b420d31995b449e97a3e9ea00259f5',
    26000: '74b5bed25622da1611928fdb31297fafadaf2876ce32ddb0c8b6d12d772979f4',
    27000: '11626fcc310bbbcc601f7c8c4d8a664cef4907076cd7ec4f16268ee5b921ba44',
    28000: '86a15affa95859046f869ffd4850886250d1a181e5151b1f096f728fb2d67502',
    29000: 'e1a0cffe17b4f109399db38f2b23f9b6668b8ca1c3c24e36d5cbe4f40a925862',
    30000: 'e71996f771d15476bae48751081b473b381774b5d335f6163b183f70a2eaed01',
    31000: 'f1efaf172d4f6fa9aaacfa4160feb766189989c3264da6ce3a6d64a7c97097bb',
    32000: 'fcb2096245719199249ad23e75eac6997b5a4341564dd1cf73ce8008975b3d74',
    33000: '35abb37f65817ee4630cfeb2db286832e505873c477e12f14693bcd20e920885',
    34000: '4b656a62b6a187792c96a632c7e33f443eabda8b48c4fb5dfdda72cf02003095',
    35000: 'a9671b350e58b805fda88b2c17fa0bf3a05313017d28485010e6f60a69bdf945',
    36000: '1c8e71a32743b37d318bf8beb44b8809a8079011231cf3c7106e2c59f03c55b4',
    37000: '4c37d2d92ee6fdd73299ef13c91e17b9cbb11ef59d1e024254db1eceb95dc7ae',
    38000: '08b2ce85e59eac59fe621921b62c15528e9dfb6a102994297703ad67e14aa83f',
    39000: '791d0171fe1dc88cee8424ae0281f495ed0dcdf042f97f2a3fc9b37e05e9426c',
    40000: '851d0c3cb796c7f7c63a7765e28564b2c3be3d9691c9f43f88d4d3c64034b5d8',
    41000: '3c12f59a5103e582eed9fe6ae13affddc030a31e9956efb13cb7768296ba7396',
    42000: '060026beb06028864bce48e8074e2690f92a1dc5a76ee91f98f2d62b5f02a15c',
    43000: 'de5e658dccbcf0d2b38312b39a2423459b88ef893830bc145d453d82887a5753',
    44000: '8c6d550818f5390413bc58fbb3af059d3fa4a92264b1bcf84439c2b0bb043985',
    45000: '5177a4747b785f04897c36b77d5e033b11a7bcad759d1557fdb425166b8767f3',
    46000: '287e548147e6959306b74c862a1ebe43cdca39adee34e2c63ae5d3b5eaced1f5',
    47000: '8b43cce475ed43b1105a12a8bdcef32ac22dc056c5f2c616a2976a4103b5d8ac',
    48000: '8df4861e8d7bc114e91d0a5e37d193f662485cd88b8d09289cc5ac9ab243c3ed',
    49000: '418e5a082cb70c4f85ce842affec8828a53f6296882e45339c74d553fc46495e',
    50000: '894bf4e729932d2b48ba731a48075347cf55626c08ac9f30b2fe412ca9e4e895',
    51000: '9bd1b263807c5c64bca773b76d4861a49af19b76184f88260d6080bb03311928',
    52000: '1124f4b27f46bd1ffaafdda530719eddbe41858778a0a13e4557ea4eb49ffef0',
    53000: '75841062fa939e72ee12669859933c9178b88a5c5492bc9ba84d9ef7c6f1e65a',
    54000: 'cd2ba326b80ff8490723ad9fb1ace812306f0e433b74268420165068b0a975ac',
    55000: '3782736dfee847958363d4adeff1236f148aff3726f2964963b17b06dad2f97b',
    56000: '274ad6e13c069e35856e53b5dee6821ad2aa9bf8b2a5f969e2eb1234fe954bca',
    57000: 'e04c137b040c1a91e16614178c189d0c30a68e1d4657ea8fde8467601e3ac121',
}
_NOTE = re.compile(r'（[^（）]*）')  # 「一作…」 variant readings and other editorial notes
_BRACKETS = str.maketrans('', '', '[]〖〗')


def file_name(n: int) -> str:
    """The name chinese-poetry gives the file that starts at poem n."""
    return f'poet.tang.{n}.json'


def find_files(folder: Path) -> list[Path]:
    """The poet.tang.N.json files of a user's copy, in N order (the folder itself, else a known subfolder)."""
    for sub in SUBFOLDERS:
        found = sorted((folder / sub).glob('poet.tang.*.json'), key=_number)
        if found:
            return found
    raise DataError('data.tang.no_files', path=folder, subfolders=', '.join(SUBFOLDERS[1:]), homepage=HOMEPAGE)


def _number(path: Path) -> int:
    middle = path.name.removeprefix('poet.tang.').removesuffix('.json')
    return int(middle) if middle.isdigit() else -1


def downloaded_files(folder: Path, emit: Emit) -> list[Path]:
    """The 58 files in `folder/quantangshi/`, downloaded and unpacked first if any is missing or altered."""
    cache = folder / CACHE
    wanted = [cache / file_name(n) for n in FILE_SHA256]
    if all(p.is_file() and sha256_of(p) == FILE_SHA256[_number(p)] for p in wanted):
        return wanted
    archive = download(ARCHIVE_URL, folder / Path(ARCHIVE_URL).name, ARCHIVE_SHA256, emit)
    try:
        _unpack(archive, cache)
    finally:
        archive.unlink(missing_ok=True)  # 85 MB, of which the Tang poems are 25
    return wanted


def _unpack(archive: Path, cache: Path) -> None:
    """Copy only the expected files out of the archive, each checked against its sha256 before it is kept."""
    import hashlib

    with tarfile.open(archive, 'r:gz') as tar:
        for n, sha in FILE_SHA256.items():
            member = tar.extractfile(ARCHIVE_FOLDER + file_name(n))
            data = member.read() if member else b''
            if hashlib.sha256(data).hexdigest() != sha:
                raise DataError('data.tang.altered', archive=archive.name, file=file_name(n))
            atomic_write_bytes(cache / file_name(n), data)


def poems(files: list[Path]) -> Iterator[tuple[str, list[str]]]:
    """(title, lines) of every poem, cleaned; poems with a character Unicode lacks are skipped."""
    for path in files:
        try:
            items = json.loads(path.read_text(encoding='utf-8'))
        except (UnicodeDecodeError, json.JSONDecodeError) as e:
            raise DataError('data.tang.not_json', path=path, detail=str(e)) from None
        if not isinstance(items, list):
            raise DataError('data.tang.not_list', path=path)
        for poem in items:
            lines = [_clean(line) for line in poem.get('paragraphs') or [] if isinstance(line, str)]
            lines = [line for line in lines if line]
            if lines and not any('{' in line for line in lines):
                yield _clean(str(poem.get('title') or '')), lines


def _clean(line: str) -> str:
    return _NOTE.sub('', line).translate(_BRACKETS).strip()


def poems_text(files: list[Path], simplified: bool) -> tuple[str, int]:
    """All poems as one text (title, lines, blank line), and how many there are."""
    blocks = ['\n'.join([title, *lines]) + '\n' for title, lines in poems(files)]
    text = '\n'.join(blocks)
    if simplified:
        import opencc

        text = opencc.OpenCC('t2s').convert(text)
    return text, len(blocks)


def write_input(cfg: DataConfig, folder: Path, emit: Emit) -> tuple[Path, dict]:
    """input.txt in the dataset folder from the user's files or the download; returns it and its origin."""
    if cfg.input:
        files = find_files(Path(cfg.input).expanduser())
        origin = {'kind': 'folder', 'path': str(Path(cfg.input).expanduser()), 'files': len(files)}
    else:
        files = downloaded_files(folder, emit)
        origin = {'kind': 'url', 'url': ARCHIVE_URL, 'archive_sha256': ARCHIVE_SHA256, 'files': len(files)}
    text, count = poems_text(files, cfg.simplified)
    if not count:
        raise DataError('data.tang.no_poems', files=len(files), path=str(cfg.input))
    dest = folder / 'input.txt'
    atomic_write_text(dest, text)
    emit_log(emit, 'log.tang_poems', poems=count, characters=len(text))
    return dest, {**origin, 'poems': count, 'simplified': cfg.simplified, 'license': LICENSE}
