"""The one exception type that carries a message a user can act on."""


class InvertFillError(Exception):
    """A problem with the user's input (a file, a flag, a checkpoint), stated in one line.

    Front ends catch it and print the message (CLI) or show it in a dialog (GUI);
    any other exception is a bug.
    """
