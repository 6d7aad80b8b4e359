"""Speed and scale: p50/p99 latency and questions per second in one process, for the bundled base
and for generated bases of 10,000 / 100,000 / 1,000,000 entries (seeded, words drawn from HeQ's
vocabulary by their real frequency, each entry with a title, 3 alternate questions and an answer,
plus the bundled out-of-scope subjects),
with load time and resident memory, beside a naive ``rapidfuzz.process.extractOne`` over all
alternate questions measured in the same run.

Each size runs in its own subprocess so resident memory is that size's alone.
Run: python -m benchmarks.scale [--sizes bundled,10000,100000,1000000] [--json out.json]
"""
from __future__ import annotations

import argparse
import gc
import json
import random
import subprocess
import sys
import time
from collections import Counter

import psutil
from rapidfuzz import process

from benchmarks.common import base_of, entry, load_heq, machine

SEED = 20261122


def vocabulary() -> tuple[list[str], list[int]]:
    paragraphs, questions = load_heq()
    counts: Counter[str] = Counter()
    for _, _, ctx in paragraphs:
        counts.update(w.strip('.,:;!?()"\'״׳-') for w in ctx.split())
    for q, _ in questions:
        counts.update(w.strip('.,:;!?()"\'״׳-') for w in q.split())
    words = [w for w, _ in counts.most_common() if w and not w.isdigit()]
    return words, [counts[w] for w in words]


def generate(n: int, rng: random.Random) -> list:
    words, weights = vocabulary()
    cum = list(__import__("itertools").accumulate(weights))
    out = []
    for i in range(n):
        def phrase(lo: int, hi: int) -> str:
            return " ".join(rng.choices(words, cum_weights=cum, k=rng.randint(lo, hi)))
        out.append(entry(f"gen-{i}", phrase(4, 8), phrase(25, 40),
                         (phrase(5, 9) + "?", phrase(5, 9), phrase(5, 9))))
    return out


def perturb(q: str, rng: random.Random) -> str:
    """A user's version of an alternate question: a word dropped, order changed, a prefix added."""
    words = q.rstrip("?").split()
    if len(words) > 3:
        words.pop(rng.randrange(len(words)))
    if rng.random() < 0.5:
        rng.shuffle(words)
    if rng.random() < 0.5:
        words[0] = "ו" + words[0]
    return " ".join(words)


def percentile(values: list[float], p: float) -> float:
    s = sorted(values)
    return s[min(len(s) - 1, int(round(p / 100 * (len(s) - 1))))]


def measure(size: str, queries: int, naive_queries: int) -> dict:
    rng = random.Random(SEED)
    proc = psutil.Process()
    rss0 = proc.memory_info().rss
    t0 = time.perf_counter()
    if size == "bundled":
        from knowledge.engine import Engine

        snap = Engine().snapshot
        kb, matcher = snap.kb, snap.matcher
        gen_s = 0.0
        build_s = time.perf_counter() - t0
    else:
        entries = generate(int(size), rng)
        gen_s = time.perf_counter() - t0
        from knowledge.engine import freeze_heap
        from knowledge.matcher import Matcher

        from knowledge.loader import load_base

        t1 = time.perf_counter()
        # The curators' out-of-scope subjects do not grow with the base: the bundled ones ride along.
        kb = base_of(entries, out_of_scope=load_base().out_of_scope)
        matcher = Matcher(kb)
        freeze_heap()  # what Engine does after every load
        build_s = time.perf_counter() - t1
        del entries
    gc.collect()
    rss = proc.memory_info().rss
    all_entries = list(kb.entries.values())
    with_q = [e for e in all_entries if e.questions]
    asked = [(perturb(rng.choice(e.questions), rng), e.id) for e in rng.choices(with_q, k=queries)]
    for q, _ in asked[:20]:  # warm-up (caches, first allocations)
        matcher.match(q)
    lat = []
    hits = 0
    t_all = time.perf_counter()
    for q, eid in asked:
        t = time.perf_counter()
        m = matcher.match(q)
        lat.append((time.perf_counter() - t) * 1000)
        hits += bool(m.candidates) and m.candidates[0].entry_id == eid
    total = time.perf_counter() - t_all
    long_q = ("מה התקציב של ההחלטה ומי משלם על הטיסות " * 300)[:10_000]
    t = time.perf_counter()
    matcher.match(long_q)
    long_ms = (time.perf_counter() - t) * 1000

    choices = [q for e in all_entries for q in e.questions]
    owners = [e.id for e in all_entries for _ in e.questions]
    naive_lat = []
    naive_hits = 0
    for q, eid in asked[:naive_queries]:
        t = time.perf_counter()
        hit = process.extractOne(q, choices)
        naive_lat.append((time.perf_counter() - t) * 1000)
        naive_hits += hit is not None and owners[hit[2]] == eid
    result = {
        "size": size, "entries": len(all_entries), "alternate_questions": len(choices),
        "generate_s": round(gen_s, 2), "load_s": round(build_s, 2),
        "rss_mib": round(rss / 2**20, 1), "index_rss_mib": round((rss - rss0) / 2**20, 1),
        "queries": len(asked), "p50_ms": round(percentile(lat, 50), 3), "p99_ms": round(percentile(lat, 99), 3),
        "qps": round(len(asked) / total, 1), "top1": round(hits / len(asked), 3),
        "ms_10000_chars": round(long_ms, 2),
        "naive_queries": len(naive_lat), "naive_p50_ms": round(percentile(naive_lat, 50), 2),
        "naive_p99_ms": round(percentile(naive_lat, 99), 2),
        "naive_top1": round(naive_hits / max(1, len(naive_lat)), 3),
    }
    result["speedup_p50"] = round(result["naive_p50_ms"] / result["p50_ms"], 1)
    return result


PLAN = {"bundled": (1000, 200), "10000": (1000, 200), "100000": (1000, 50), "1000000": (1000, 10)}


def main() -> int:
    ap = argparse.ArgumentParser()
    ap.add_argument("--sizes", default=",".join(PLAN))
    ap.add_argument("--one", help=argparse.SUPPRESS)
    ap.add_argument("--json", default=None)
    args = ap.parse_args()
    if args.one:
        print(json.dumps(measure(args.one, *PLAN[args.one])))
        return 0
    results = []
    for size in args.sizes.split(","):
        p = subprocess.run([sys.executable, "-m", "benchmarks.scale", "--one", size], capture_output=True, text=True)
        if p.returncode != 0:
            print(p.stderr, file=sys.stderr)
            return p.returncode
        results.append(json.loads(p.stdout.strip().splitlines()[-1]))
        print(json.dumps(results[-1], ensure_ascii=False), flush=True)
    out = {"machine": machine(), "results": results}
    if args.json:
        with open(args.json, "w", encoding="utf-8") as f:
            json.dump(out, f, ensure_ascii=False, indent=1)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
