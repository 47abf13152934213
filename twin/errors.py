"""Errors the twin reports to its users.

A planner who mistypes a scenario must learn, in one line, which file, which field, which value and
what would have been allowed. Every error a user can cause is an :class:`InputError` (exit code 2);
the command line prints its message and nothing else.
"""

from __future__ import annotations


class TwinError(Exception):
    """Base of the twin's own errors."""

    exit_code = 1


class InputError(TwinError):
    """Bad input from the user: a scenario file, an argument, a data file.

    The message is complete on its own: ``scenarios/x.yaml: population.scale: 1.4 is not in (0, 1]``.
    Several problems found at once are joined by newlines, one per line.
    """

    exit_code = 2


def describe_value(value: object) -> str:
    """A value as the user wrote it, short enough for one line of an error message."""
    if isinstance(value, str):
        text = repr(value)
    elif isinstance(value, bool) or value is None:
        text = {True: "true", False: "false", None: "null"}[value]
    elif isinstance(value, dict):
        text = "a mapping {" + ", ".join(str(k) for k in list(value)[:5]) + ("…}" if len(value) > 5 else "}")
    elif isinstance(value, list):
        text = f"a list of {len(value)} item{'s' if len(value) != 1 else ''}"
    else:
        text = str(value)
    return text if len(text) <= 80 else text[:77] + "..."
