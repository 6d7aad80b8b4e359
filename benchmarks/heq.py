"""Hebrew retrieval on HeQ (validation split): the project's matcher beside plain BM25.

Every paragraph becomes one entry (answer = paragraph, no alternate questions); every answerable
question is asked through the real matcher; top-1 / top-5 count the question's own paragraph.
The reference is bm25s on whitespace tokens, measured in the same run.
Run: python -m benchmarks.heq
"""
from __future__ import annotations

import json
import sys
import time

from benchmarks.common import base_of, entry, load_heq
from knowledge.matcher import Matcher


def run_matcher(paragraphs, questions) -> dict:
    t0 = time.perf_counter()
    kb = base_of([entry(pid, title, ctx) for pid, title, ctx in paragraphs])
    matcher = Matcher(kb)
    build = time.perf_counter() - t0
    top1 = top5 = 0
    misses = []
    t0 = time.perf_counter()
    for q, pid in questions:
        ids = [c.entry_id for c in matcher.search(q, k=5)]
        top1 += bool(ids) and ids[0] == pid
        top5 += pid in ids
        if not ids or ids[0] != pid:
            misses.append((q, pid, ids[:3]))
    elapsed = time.perf_counter() - t0
    n = len(questions)
    return {"top1": top1 / n, "top5": top5 / n, "build_s": build, "ms_per_q": 1000 * elapsed / n,
            "misses": misses}


def run_bm25s(paragraphs, questions) -> dict:
    import bm25s

    corpus = [ctx for _, _, ctx in paragraphs]
    retriever = bm25s.BM25()
    retriever.index(bm25s.tokenize(corpus, stopwords=None, show_progress=False), show_progress=False)
    pids = [pid for pid, _, _ in paragraphs]
    res, _ = retriever.retrieve(bm25s.tokenize([q for q, _ in questions], stopwords=None, show_progress=False),
                                k=5, show_progress=False)
    top1 = sum(pids[res[i][0]] == pid for i, (_, pid) in enumerate(questions))
    top5 = sum(pid in {pids[j] for j in res[i]} for i, (_, pid) in enumerate(questions))
    n = len(questions)
    return {"top1": top1 / n, "top5": top5 / n}


def main() -> int:
    paragraphs, questions = load_heq()
    ours = run_matcher(paragraphs, questions)
    ref = run_bm25s(paragraphs, questions)
    out = {"paragraphs": len(paragraphs), "questions": len(questions),
           "matcher": {k: v for k, v in ours.items() if k != "misses"}, "bm25s": ref}
    print(json.dumps(out, ensure_ascii=False, indent=1))
    if "--misses" in sys.argv:
        for q, pid, ids in ours["misses"][:40]:
            print(pid, q, ids)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
