"""Two decisions side by side: number, date, title, budget, period, localities and focus, each
with its source.

Why: "מה ההבדל בין 546 ל-2025" used to be answered by one decision's entry that mentions the
other; no entry holds both, and none should (every pair would need one). The fields come from
each decision document's own ``decision`` block and summary, which the curators keep, so the
comparison is as current as the base.
"""
from __future__ import annotations

from knowledge.schema import Document

from . import texts
from .replies import Citation


def _block(doc: Document) -> list[str]:
    d = doc.decision
    assert d is not None  # only decision documents are compared
    lines = [f"{doc.title} ({texts.COMPARE_DATE} {texts.format_date(d.date)})"]
    lines.append(f"• {texts.COMPARE_BUDGET}: {d.budget or texts.COMPARE_UNKNOWN}")
    lines.append(f"• {texts.COMPARE_PERIOD}: {d.period or texts.COMPARE_UNKNOWN}")
    if d.localities:
        lines.append(f"• {texts.COMPARE_LOCALITIES}: " + ", ".join(d.localities))
    if doc.summary:
        lines.append(f"• {texts.COMPARE_FOCUS}: {doc.summary}")
    lines.append(texts.citation_text(Citation(doc.source.name, doc.source.url, doc.source.as_of, d.number, d.date)))
    return lines


def compare_text(a: Document, b: Document) -> str:
    """The comparison of decision documents ``a`` and ``b``, in the order asked (the reply's title
    says which two they are)."""
    return "\n".join([*_block(a), "", *_block(b)])
