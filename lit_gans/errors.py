"""The one exception type that the CLI turns into a one-line message and a non-zero exit."""


class LitGansError(Exception):
    """A problem the user can fix: the message says what is wrong and how to fix it."""
