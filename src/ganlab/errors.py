"""The one exception type ganlab raises for bad input.

Its message is meant for a person: it names the file, key or value that was wrong and what to
do about it. The CLI prints it on one line and exits with status 2.
"""


class GanlabError(Exception):
    """A user-facing error: bad config, missing data or weights, unreadable file."""
