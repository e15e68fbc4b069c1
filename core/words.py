"""Counts in words for people: "1 rejected row", "2 rejected rows", "1,200 rows".

One helper for every count a page, a report or an error message shows, so none reads "the 1 rejected
rows" again. The console registers :func:`counted` as the Jinja filter ``counted``
(``{{ job.rejected | counted("rejected row") }}``).
"""

from __future__ import annotations


def counted(n: float, singular: str, plural: str | None = None) -> str:
    """``n`` and the noun phrase agreeing with it, the number with thousands separators.

    Args:
        n: the count (a float is shown as it would be counted, e.g. 3.0 -> "3").
        singular: the phrase for one, e.g. ``"row"`` or ``"row has"``.
        plural: the phrase for any other count; ``singular + "s"`` when omitted, so pass it for
            irregular nouns or a phrase with a verb (``"rows have"``).

    Returns:
        "1 row", "0 rows", "2,500 rows": ``singular`` for exactly 1, ``plural`` for every other count.
    """
    phrase = singular if n == 1 else (plural if plural is not None else f"{singular}s")
    return f"{n:,.0f} {phrase}" if isinstance(n, float) else f"{n:,} {phrase}"
