"""Shortening titles for buttons and list rows: on word boundaries, never mid-word, and unambiguous.

Why by hand: the rule is about Hebrew titles on small buttons (Telegram ~60, WhatsApp 20 or 24
characters). A title is cut after its last whole word that fits, with "…"; titles that would then
read the same are told apart by the words where they differ, and failing that by a number. Only a
single word longer than the whole limit is cut inside (nothing else fits).
"""
from __future__ import annotations

ELLIPSIS = "…"


def _clean(text: str) -> str:
    return " ".join(text.split())


def shorten(text: str, limit: int) -> str:
    """``text`` in at most ``limit`` characters, cut after a whole word."""
    text = _clean(text)
    if len(text) <= limit:
        return text
    words, out = text.split(" "), ""
    for word in words:
        candidate = f"{out} {word}" if out else word
        if len(candidate) + 1 > limit:
            break
        out = candidate
    if not out:  # the first word alone is longer than the limit
        return text[: limit - 1] + ELLIPSIS
    return out.rstrip(" –-,:;·") + ELLIPSIS


def shorten_all(texts: list[str], limit: int) -> list[str]:
    """Each text shortened, and no two alike: where cutting makes them equal, the words they share
    at the start are dropped from the shortened form, then a number tells the rest apart."""
    out = [shorten(t, limit) for t in texts]
    for short in set(out):
        same = [i for i, s in enumerate(out) if s == short]
        if len(same) < 2:
            continue
        words = [_clean(texts[i]).split(" ") for i in same]
        shared = 0
        while all(len(w) > shared + 1 for w in words) and len({w[shared] for w in words}) == 1:
            shared += 1
        for i, w in zip(same, words):
            out[i] = shorten(ELLIPSIS + " ".join(w[shared:]), limit) if shared else out[i]
    groups: dict[str, list[int]] = {}
    for i, s in enumerate(out):
        groups.setdefault(s, []).append(i)
    for s, members in groups.items():
        if len(members) > 1:
            for n, i in enumerate(members, 1):
                out[i] = shorten(f"{n}. {texts[i]}", limit)
    return out
