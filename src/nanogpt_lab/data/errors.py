"""The one error data preparation raises for bad input, worded for the person who gave it."""


class DataError(ValueError):
    """Input that cannot become a dataset (missing, empty, binary, not UTF-8, too small...), with what to do."""
