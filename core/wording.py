"""Counts in the words shown to users: "1 image", "3 images"."""


def counted(count: int, noun: str, plural: str | None = None) -> str:
    """`count` and `noun`, the noun plural (`plural`, by default with an s) unless the count is one."""
    return f"{count} {noun}" if count == 1 else f"{count} {plural or noun + 's'}"
