"""Helpers for the benchmarks: the bundled HeQ data, building synthetic bases, machine info."""
from __future__ import annotations

import json
import os
import platform
from datetime import date
from pathlib import Path

from knowledge.schema import Document, Entry, KnowledgeBase, OutOfScope, Source

REPO = Path(__file__).resolve().parent.parent
HEQ = Path(os.environ.get("RASHUT_HEQ", REPO / "benchmarks" / "data" / "heq" / "val_v1.1.json"))
SOURCE = Source("HeQ (Webiks for MAFAT, CC BY 4.0)", None, date(2023, 1, 1))


def load_heq() -> tuple[list[tuple[str, str, str]], list[tuple[str, str]]]:
    """Paragraphs as (id, title, context) and answerable questions as (question, paragraph id)."""
    if not HEQ.is_file():
        raise SystemExit(f"HeQ data not found at {HEQ}: it ships in benchmarks/data/heq/ (or set RASHUT_HEQ "
                         "to a copy of HeQ's val_v1.1.json)")
    data = json.loads(HEQ.read_text(encoding="utf-8"))
    paragraphs, questions = [], []
    for a, article in enumerate(data["data"]):
        for p, para in enumerate(article["paragraphs"]):
            pid = f"heq-{a}-{p}"
            paragraphs.append((pid, article["title"], para["context"]))
            for qa in para["qas"]:
                if not qa.get("is_impossible") and qa.get("answers"):
                    questions.append((qa["question"], pid))
    return paragraphs, questions


def entry(eid: str, title: str, answer: str, questions: tuple[str, ...] = (), doc: str = "bench") -> Entry:
    return Entry(id=eid, title=title, answer=answer, doc_id=doc, kind="topic", source=SOURCE,
                 file="<bench>", line=0, questions=questions)


def base_of(entries: list[Entry], title: str = "benchmark", out_of_scope: tuple[OutOfScope, ...] = ()) -> KnowledgeBase:
    doc = Document("bench", "topic", title, SOURCE, "<bench>", tuple(entries))
    return KnowledgeBase.build(Path("<bench>"), (doc,), (), out_of_scope)


def machine() -> dict[str, object]:
    """What the figures were measured on: CPU model, cores, memory, Python, kernel, current load."""
    cpu = platform.processor() or platform.machine()
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    mem = os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES") / 2**30
    return {"cpu": cpu, "nproc": os.cpu_count(), "mem_gib": round(mem), "python": platform.python_version(),
            "platform": platform.platform(), "loadavg_1m_at_start": round(os.getloadavg()[0], 2)}
