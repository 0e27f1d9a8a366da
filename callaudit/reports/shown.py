"""User-supplied text (file names, roster names, what was said) made safe to print on a terminal or a
log: control characters become visible escapes, so a newline in a file name cannot split a progress
line, and Rich markup is escaped, so `[/x]` in a folder name is printed rather than parsed."""

from __future__ import annotations

import re

from rich.markup import escape

_CONTROL = re.compile(r"[\x00-\x1f\x7f]")


def printable(text: object) -> str:
    """`text` on one line: \\n, \\t and other control characters shown as escapes."""
    return _CONTROL.sub(lambda m: repr(m.group())[1:-1], str(text))


def markup(text: object) -> str:
    """`text` for a Rich console: printable, and its square brackets never read as markup."""
    return escape(printable(text))
