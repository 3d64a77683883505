"""The one error data preparation raises for bad input, worded for the person who gave it."""

from nanogpt_lab.errors import LabError


class DataError(LabError):
    """Input that cannot become a dataset (missing, empty, binary, not UTF-8, too small...), with what to do.

    `DataError('data.empty', path=...)`: the code names its words in the message catalogs.
    """
