"""Text from strangers, made safe for a terminal (display only; stored text is never altered)."""

from __future__ import annotations

import unicodedata


def printable(text: str, width: int | None = None) -> str:
    """Control, format (bidi, zero-width) and line characters become visible or spaces.

    A hostile SMS must not move the cursor, change colours or reorder the line it is
    printed on; `width` cuts long cells with an ellipsis.
    """
    out = []
    for ch in text:
        cat = unicodedata.category(ch)
        if ch in "\r\n\t":
            out.append(" ")
        elif cat in ("Cc", "Cf", "Cs", "Zl", "Zp"):
            out.append("\N{REPLACEMENT CHARACTER}" if cat != "Cf" else "")
        else:
            out.append(ch)
    shown = "".join(out)
    if width is not None and len(shown) > width:
        shown = shown[: max(0, width - 1)] + "…"
    return shown
