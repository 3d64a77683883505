"""The one error data preparation raises for bad input, worded for the person who gave it."""


class DataError(ValueError):
    """Input that cannot become a dataset (missing, empty, binary, not UTF-8, too small...), with what to do."""

    # The problems a page explains in the learner's language, by these names (the message stays English)
    CODES = ('empty', 'binary', 'not_utf8', 'too_small', 'char_vocab', 'jsonl')

    def __init__(self, message: str, code: str | None = None) -> None:
        super().__init__(message)
        if code is not None and code not in self.CODES:
            raise ValueError(f'unknown DataError code {code!r}')
        self.code = code
