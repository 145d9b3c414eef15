"""The one exception type ganlab raises for bad input.

Its message is meant for a person: it names the file, key or value that was wrong and what to
do about it. The CLI prints it on one line and exits with status 2.
"""


class GanlabError(Exception):
    """A user-facing error: bad config, missing data or weights, unreadable file."""


def positive_int(text: str) -> int:
    """``argparse`` type: an integer > 0 (argparse then says which option was wrong)."""
    import argparse

    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected an integer, got {text!r}") from None
    if value <= 0:
        raise argparse.ArgumentTypeError(f"must be > 0, got {value}")
    return value
