"""The one error type for bad input (the job wrapper turns it into a one-line message)."""


class DataError(ValueError):
    """Bad input: the message is one line naming the file, column and row where it can."""
