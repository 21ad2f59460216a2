"""Counts and durations in the words shown to users: "1 image", "3 images", "40 s", "12 min"."""


def counted(count: int, noun: str, plural: str | None = None) -> str:
    """`count` and `noun`, the noun plural (`plural`, by default with an s) unless the count is one."""
    return f"{count} {noun}" if count == 1 else f"{count} {plural or noun + 's'}"


def rough_duration(seconds: float) -> str:
    """Seconds as a person says them: "40 s", "12 min", "2.5 h"."""
    if seconds < 90:
        return f"{seconds:.0f} s"
    if seconds < 5400:
        return f"{seconds / 60:.0f} min"
    return f"{seconds / 3600:.1f} h"


def sentences(notes: list[str]) -> str:
    """Notes as the status bar shows them: each capitalised with a full stop, joined by spaces."""
    return " ".join(note[:1].upper() + note[1:] + "." for note in notes)
