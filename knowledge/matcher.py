"""Question -> entries: a weighted inverted index, a rapidfuzz rerank, and a number guard.

Why hand-written: the ranking must understand Hebrew variants (``knowledge.hebrew``), curator
synonyms and numbers-as-facts, and it must cost in proportion to the question, not the base, so
the index keeps, per key, numpy arrays of entry ids and precomputed BM25 impacts. The generic
parts are libraries: numpy for the arithmetic, rapidfuzz for string similarity.
"""
from __future__ import annotations

import math
from array import array
from collections import defaultdict
from dataclasses import dataclass, replace
from typing import Iterable, Literal, Sequence

import numpy as np
from rapidfuzz import fuzz, process

from .answerability import EntryFacts
from .gazetteer import Gazetteer, asked_about
from .features import SynonymTagger, asked_sentences, decision_refs, word_overlap
from .hebrew import guarded_numbers, is_stop, normalize, question_types, sound_key, variants
from .out_of_scope import OutOfScopeExamples
from .schema import Entry, KnowledgeBase
from .thresholds import Thresholds

__all__ = ["Candidate", "Match", "Matcher", "Thresholds"]

Decision = Literal["answer", "clarify", "unanswered"]

# Field weights: what an entry is *about* (its questions and title) weighs more than its prose.
W_TITLE, W_QUESTIONS, W_KEYWORDS, W_ANSWER, W_DOC = 2.0, 2.0, 1.5, 1.0, 0.5
K1, B = 1.2, 0.6
# How the final confidence blends coverage, fuzzy similarity and BM25 relative to the best.
C_COV, C_FUZZ, C_OVERLAP, C_BM25 = 0.40, 0.30, 0.10, 0.20
MAX_QUERY_TOKENS = 48  # a pasted 10,000-character message is cut to its first distinct words
RERANK_K = 8
# Coverage counts a question word fully when the entry is *about* it (title, alternate questions,
# keywords: the first ABOUT_FIELDS fields) and only partly when the answer merely mentions it: a
# place or a person named in passing should not make an entry look like the answer. An entry with
# no alternate questions is about everything its answer says.
ABOUT_FIELDS = 3
ANSWER_ONLY_COVERAGE = 0.5
# A word whose postings exceed max(COMMON_DF, n * COMMON_FRACTION) only rescores candidates.
COMMON_DF, COMMON_FRACTION = 2000, 0.01
MIN_RARE = 2
OTHER_DECISION_PENALTY = 0.06  # an entry that only mentions the decision a question names
# An entry none of whose questions asks the way the question does (who / when / how much / why /
# where / how) is less likely the answer: "למה צריך אשכולות" is not "כמה אשכולות יש".
QUESTION_TYPE_PENALTY = 0.06
PLACE_PENALTY = 0.06  # an entry that does not name the locality asked about, when another does
SOUND_ALIKE = 0.85  # weight of a known word read the same as an unknown question word
KNOWN_AS_WRITTEN = 0.86  # a reading this good (the word itself, or one clitic off) is not a typo
# Contact details (phone, address, e-mail, fax) are never facts of the base unless an entry is
# *about* them: "מה הטלפון של סורוקה" names a place from an answer but asks what no answer holds.
CONTACT_KEYS = frozenset({"טלפונ", "טלפונימ", "כתובת", "מייל", "אימייל", "email", "פקס", "וואטסאפ"})
SCATTER_CAP = 2000


@dataclass(frozen=True, slots=True)
class Candidate:
    entry_id: str
    score: float  # combined confidence in [0, 1]
    coverage: float  # idf-weighted share of the question's words found in the entry
    fuzzy: float  # best rapidfuzz similarity to the entry's title or alternate questions
    bm25: float


@dataclass(frozen=True, slots=True)
class Match:
    decision: Decision
    candidates: tuple[Candidate, ...]
    normalized: str
    unknown_numbers: tuple[str, ...] = ()  # guarded numbers no entry of the base knows
    unknown_decisions: tuple[str, ...] = ()  # "החלטה N" where no entry knows decision N
    out_of_scope: str | None = None  # the out-of-scope subject the question is closest to
    unknown_places: tuple[str, ...] = ()  # localities the question is about that no entry names
    lacking: str | None = None  # the kind of fact asked that the best entry lacks (answerability.LACKING)

    @property
    def best(self) -> Candidate | None:
        return self.candidates[0] if self.candidates else None


class Matcher:
    """Built once per loaded base; immutable afterwards except for per-call scratch arrays, so one
    matcher serves one thread at a time (the event loop); a reload builds a new one."""

    def __init__(self, kb: KnowledgeBase, thresholds: Thresholds | None = None) -> None:
        self.kb = kb
        self.thresholds = thresholds or Thresholds()
        self.synonyms = SynonymTagger(kb.synonyms)
        self.ids: list[str] = list(kb.entries)
        self.position = {entry_id: n for n, entry_id in enumerate(self.ids)}
        self._build(kb.entries.values())
        self.out_of_scope = OutOfScopeExamples(kb.out_of_scope, self.thresholds)

    # ---------------------------------------------------------------- index
    def _entry_fields(self, e: Entry) -> list[tuple[str, float]]:
        doc = self.kb.document(e.doc_id)
        fields = [(e.title, W_TITLE), (" ".join(e.questions), W_QUESTIONS), (" ".join(e.keywords), W_KEYWORDS),
                  (e.answer + " " + " ".join(e.checklist), W_ANSWER)]
        extra = []
        if doc is not None and doc.title != e.title:
            extra.append(doc.title)
        if e.clause:
            extra.append(f"סעיף {e.clause}")
        if e.decision_number:
            extra.append(f"החלטה {e.decision_number}")
        if extra:
            fields.append((" ".join(extra), W_DOC))
        return fields

    def _build(self, entries: Iterable[Entry]) -> None:
        postings_ids: dict[str, array] = defaultdict(lambda: array("i"))
        postings_tf: dict[str, array] = defaultdict(lambda: array("f"))
        postings_about: dict[str, array] = defaultdict(lambda: array("f"))
        lengths = array("f")
        number_ids: dict[str, array] = defaultdict(lambda: array("i"))
        decision_ids: dict[str, array] = defaultdict(lambda: array("i"))
        self.fuzz_texts: list[tuple[str, ...]] = []
        self.decision_of: list[int | None] = []
        self.asks: list[frozenset[str] | None] = []
        self.facts = EntryFacts()
        self.gazetteer = Gazetteer()  # localities named by each entry's title, keywords and answer
        for idx, e in enumerate(entries):
            tf: dict[str, float] = defaultdict(float)
            length = 0.0
            nums: set[str] = set()
            all_tokens: list[str] = []
            about: set[str] = set()
            for n, (text, weight) in enumerate(self._entry_fields(e)):
                norm = normalize(text)
                toks = norm.split()
                all_tokens.extend(toks)
                if n in (0, 2, 3):  # title, keywords, answer (and checklist): what the entry names
                    self.gazetteer.add(idx, toks)
                keys_here: list[str] = []
                for tok in toks:
                    if tok.isdigit():
                        nums.add(tok)
                    if is_stop(tok):
                        continue
                    length += weight
                    for key, w in variants(tok):
                        tf[key] += weight * w
                        keys_here.append(key)
                for tag in self.synonyms.tags(toks):
                    tf[tag] += weight
                    keys_here.append(tag)
                if n < ABOUT_FIELDS:
                    about.update(keys_here)
            refs = decision_refs(all_tokens)
            if e.decision_number:
                refs.add(str(e.decision_number))
                nums.add(str(e.decision_number))
            if e.decision_date:
                nums.add(str(e.decision_date.year))
            for key, value in tf.items():
                postings_ids[key].append(idx)
                postings_tf[key].append(value)
                postings_about[key].append(1.0 if key in about or not e.questions else ANSWER_ONLY_COVERAGE)
            lengths.append(max(length, 1.0))
            for num in nums:
                number_ids[num].append(idx)
            for num in refs:
                decision_ids[num].append(idx)
            self.decision_of.append(e.decision_number)
            # Title and alternate questions, normalised once for all that is read off them.
            norms = [normalize(t) for t in (e.title, *e.questions)]
            words = [n.split() for n in norms]
            self.fuzz_texts.append(tuple(" ".join(t for t in ws if not is_stop(t)) for ws in words))
            kinds = [question_types(n) for n in norms]
            # None: an entry without alternate questions is not judged by its question words.
            self.asks.append(frozenset().union(*kinds) if e.questions else None)
            self.facts.add(e, words[1:], kinds[1:], self.asks[-1] or frozenset())
        # Entry ids (ascending) per number that entry states, and per decision it refers to.
        self.number_index = {k: np.frombuffer(v, dtype=np.int32) for k, v in number_ids.items()}
        self.decision_index = {k: np.frombuffer(v, dtype=np.int32) for k, v in decision_ids.items()}
        n = len(lengths)
        self.n = n
        lens = np.frombuffer(lengths, dtype=np.float32) if n else np.zeros(0, np.float32)
        avg = float(lens.mean()) if n else 1.0
        self.idf: dict[str, float] = {}
        self.postings: dict[str, tuple[np.ndarray, np.ndarray]] = {}
        # For very common keys, the SCATTER_CAP postings with the highest impact: what a common
        # word contributes when it has to pick candidates.
        self.heads: dict[str, tuple[np.ndarray, np.ndarray]] = {}
        for key, ids_arr in postings_ids.items():
            ids = np.frombuffer(ids_arr, dtype=np.int32)
            tfs = np.frombuffer(postings_tf[key], dtype=np.float32)
            df = len(ids)
            idf = math.log(1.0 + (n - df + 0.5) / (df + 0.5))
            norm = K1 * (1.0 - B + B * lens[ids] / avg)
            impact = (idf * tfs * (K1 + 1.0) / (tfs + norm)).astype(np.float32)
            self.idf[key] = idf
            aboutness = np.frombuffer(postings_about[key], dtype=np.float32)
            self.postings[key] = (ids, impact, aboutness)
            if df > SCATTER_CAP:
                top = np.argpartition(-impact, SCATTER_CAP)[:SCATTER_CAP]
                top.sort()
                self.heads[key] = (ids[top], impact[top], aboutness[top])
        self.idf_unknown = math.log(1.0 + (n + 0.5) / 0.5)
        # Vocabulary for typo correction of unknown question words, bucketed by length.
        vocab: dict[int, list[str]] = defaultdict(list)
        for key in self.postings:
            if len(key) >= 4 and "\u05d0" <= key[0] <= "\u05ea":
                vocab[len(key)].append(key)
        self.vocab = dict(vocab)
        # The same words by spelling-blind key, for a question word the base does not know as written.
        sounds: dict[str, list[str]] = defaultdict(list)
        for words in self.vocab.values():
            for key in words:
                sounds[sound_key(key)].append(key)
        self.sounds = dict(sounds)
        self._acc = np.zeros(n, np.float32)
        self._cov = np.zeros(n, np.float32)
        self._tmp = np.zeros(n, np.float32)
        self._tmpc = np.zeros(n, np.float32)

    # ---------------------------------------------------------------- query
    def _query_keys(self, toks: list[str]) -> list[tuple[list[tuple[str, float]], float]]:
        """Per question word: the index keys it may match with their weights, and its importance."""
        out = []
        seen: set[str] = set()
        for tok in toks:
            if tok in seen or is_stop(tok):
                continue
            seen.add(tok)
            keys = [(k, w) for k, w in variants(tok) if k in self.postings]
            # Known as written or behind one clitic ("והמשלחת"): no need to guess at its spelling.
            if len(tok) >= 4 and not tok.isdigit() and max((w for _, w in keys), default=0.0) < KNOWN_AS_WRITTEN:
                keys = self._sound_alike(tok, keys) or self._typo_keys(tok)
            if keys:
                importance = max(self.idf[k] for k, _ in keys)
            else:
                importance = self.idf_unknown
            out.append((keys, importance))
            if len(out) >= MAX_QUERY_TOKENS:
                break
        for tag in self.synonyms.tags(toks):
            if tag in self.postings and tag not in seen:
                seen.add(tag)
                out.append(([(tag, 1.0)], 0.0))  # a synonym hit adds score, not a word to cover
        return out

    def _sound_alike(self, tok: str, keys: list[tuple[str, float]]) -> list[tuple[str, float]]:
        """``keys`` plus the known words spelled differently but read the same (ט/ת, ק/כ, ס/ש, ע/א,
        with or without ו/י), at SOUND_ALIKE of the reading's weight."""
        best = dict(keys)
        for k, w in variants(tok):
            for other in self.sounds.get(sound_key(k), ()):
                if other != k and best.get(other, 0.0) < w * SOUND_ALIKE:
                    best[other] = w * SOUND_ALIKE
        return list(best.items())

    def _typo_keys(self, tok: str) -> list[tuple[str, float]]:
        best: tuple[str, float] | None = None
        for length in (len(tok) - 1, len(tok), len(tok) + 1):
            choices = self.vocab.get(length)
            if not choices:
                continue
            hit = process.extractOne(tok, choices, scorer=fuzz.ratio, score_cutoff=80)
            if hit and (best is None or hit[1] > best[1]):
                best = (hit[0], hit[1])
        if best is None:
            return []
        return [(best[0], 0.7 * best[1] / 100.0)]

    def search(self, text: str, k: int = 5) -> list[Candidate]:
        return list(self.match(text, k=k).candidates)

    def match(self, text: str, k: int = 5, norm: str | None = None) -> Match:
        """``norm`` is ``normalize(text[:4000])`` when the caller already has it."""
        norm = normalize(text[:4000]) if norm is None else norm
        toks = norm.split()
        query = self._query_keys(toks)
        guarded = guarded_numbers(norm)
        drefs = decision_refs(toks)
        unknown = tuple(sorted(n for n in guarded if n not in self.number_index))
        unknown_dec = tuple(sorted(n for n in drefs if n not in self.decision_index))
        if not query or unknown or unknown_dec or self.n == 0:
            return Match("unanswered", (), norm, unknown, unknown_dec)

        acc, cov, tmp, tmpc = self._acc, self._cov, self._tmp, self._tmpc
        total_importance = sum(imp for _, imp in query) or 1.0
        # Rare words pick the candidates; very common words (only in big bases) then add their
        # score to those candidates alone, so the cost follows the question, not the base.
        sizes = [sum(len(self.postings[k][0]) for k, _ in keys) for keys, _ in query]
        limit = max(COMMON_DF, int(self.n * COMMON_FRACTION))
        order = sorted(range(len(query)), key=lambda i: sizes[i])
        # The rarest words always pick candidates, even in a question made only of common words.
        rare_idx = {i for n, i in enumerate(order) if sizes[i] <= limit or n < MIN_RARE}
        rare = [q for i, q in enumerate(query) if i in rare_idx]
        common = [q for i, q in enumerate(query) if i not in rare_idx]
        touched_all: list[np.ndarray] = []
        for keys, importance in rare:
            if len(keys) == 1:  # one reading: add straight in, no per-word maximum needed
                key, w = keys[0]
                ids, impact, aboutness = self.heads.get(key) or self.postings[key]
                acc[ids] += impact * w
                if importance:
                    cov[ids] += (w * importance) * aboutness
                touched_all.append(ids)
                continue
            touched = []
            for key, w in keys:
                ids, impact, aboutness = self.heads.get(key) or self.postings[key]
                tmp[ids] = np.maximum(tmp[ids], impact * w)
                tmpc[ids] = np.maximum(tmpc[ids], w * aboutness)
                touched.append(ids)
            if not touched:
                continue
            # Duplicated indices are harmless here: a fancy-indexed += applies once per index.
            t = touched[0] if len(touched) == 1 else np.concatenate(touched)
            acc[t] += tmp[t]
            if importance:
                cov[t] += tmpc[t] * importance
            tmp[t] = 0.0
            tmpc[t] = 0.0
            touched_all.append(t)
        qtext = " ".join(t for t in toks[:MAX_QUERY_TOKENS * 2] if not is_stop(t))[:400]
        numbers = {t for t in toks if t.isdigit()}
        if not touched_all:  # no word of the base; maybe words of an out-of-scope subject
            return Match("unanswered", (), norm, out_of_scope=self.closer_out_of_scope(qtext, numbers, 0.0))
        cand = np.unique(np.concatenate(touched_all)) if len(touched_all) > 1 else np.unique(touched_all[0])
        scores = acc[cand]
        coverage = cov[cand]
        acc[cand] = 0.0
        cov[cand] = 0.0
        for keys, importance in common:
            best = np.zeros(len(cand), np.float32)
            best_w = np.zeros(len(cand), np.float32)
            for key, w in keys:
                ids, impact, aboutness = self.postings[key]
                pos = np.searchsorted(ids, cand)
                pos[pos >= len(ids)] = 0
                hit = ids[pos] == cand
                best = np.maximum(best, np.where(hit, impact[pos] * w, 0.0))
                best_w = np.maximum(best_w, np.where(hit, aboutness[pos] * w, 0.0))
            scores = scores + best
            coverage = coverage + best_w * importance
        coverage = coverage / total_importance

        # Number guard: every guarded number and decision reference must belong to the entry.
        for number in guarded:
            keep = np.isin(cand, self.number_index[number], assume_unique=True)
            cand, scores, coverage = cand[keep], scores[keep], coverage[keep]
        for number in drefs:
            keep = np.isin(cand, self.decision_index[number], assume_unique=True)
            cand, scores, coverage = cand[keep], scores[keep], coverage[keep]
        if len(cand) == 0:
            return Match("unanswered", (), norm, out_of_scope=self.closer_out_of_scope(qtext, numbers, 0.0))

        top = min(RERANK_K, len(cand))
        order = np.argpartition(-scores, top - 1)[:top] if len(cand) > top else np.arange(len(cand))
        best_bm25 = float(scores.max())
        qwords = [({k for k, _ in keys}, imp) for keys, imp in query if imp]
        # A question about decision N prefers the entries of decision N to entries that mention it.
        named = {int(n) for n in (drefs or guarded) if n.isdigit()}
        own_decision = next(iter(named)) if len(named) == 1 else None
        qkeys = set().union(*(ks for ks, _ in qwords)) if qwords else set()
        picked = [int(cand[j]) for j in order.tolist()]
        qtypes = question_types(norm)
        fuzzy, overlap = self._rerank(qtext, qwords, qkeys, picked)
        results = []
        for n, j in enumerate(order.tolist()):
            idx = picked[n]
            fz, ov = fuzzy[n], overlap[n]
            bm = float(scores[j])
            cv = min(float(coverage[j]), 1.0)
            combined = (C_COV * cv + C_FUZZ * fz + C_OVERLAP * ov
                        + C_BM25 * (bm / best_bm25 if best_bm25 else 0.0))
            if own_decision is not None and self.decision_of[idx] != own_decision:
                combined *= 1.0 - OTHER_DECISION_PENALTY
            asks = self.asks[idx]
            if qtypes and asks is not None and not qtypes & asks:
                combined *= 1.0 - QUESTION_TYPE_PENALTY
            results.append(Candidate(self.ids[idx], round(combined, 4), round(cv, 4), round(fz, 4), round(bm, 4)))
        places = asked_about(text)
        if places:
            unknown = self.gazetteer.unknown(places)
            if unknown and len(unknown) == len(places):
                results.sort(key=lambda c: (-c.score, -c.bm25))
                return Match("unanswered", tuple(results[:k]), norm, unknown_places=unknown)
            results = self._naming(results, [p for p in places if self.gazetteer.knows(p)])
        results.sort(key=lambda c: (-c.score, -c.bm25))
        results = results[:k]
        decision = self.decide(results)
        lacking = None
        if decision != "unanswered" and self.asks_contact_it_lacks(text, results[0].entry_id, toks):
            decision, lacking = "unanswered", "contact"
        if decision == "answer":
            lacking = self.asks_what_it_lacks(toks, results[0].entry_id, qtypes)
            if lacking:
                decision = "clarify"  # the entry may still help ("is it worth the cost"), but not as the answer
        subject = self.closer_out_of_scope(qtext, numbers, results[0].fuzzy, self.position[results[0].entry_id])
        if subject is not None:
            decision = "unanswered"
        return Match(decision, tuple(results), norm, out_of_scope=subject, lacking=lacking)

    def _naming(self, results: list[Candidate], places: list[str]) -> list[Candidate]:
        """When some candidate names a locality the question is about, the others scaled by
        1 - PLACE_PENALTY: a question about Dimona is answered by an entry that names Dimona, not by
        one that shares another word with it; but "the Sderot decision's budget" still finds the
        budget entry, which names the decision, not the town."""
        sets = [self.gazetteer.entries[p] for p in places]  # no union: a common town names thousands
        names = [any(self.position[c.entry_id] in s for s in sets) for c in results]
        if not any(names):
            return results
        return [c if named else replace(c, score=round(c.score * (1 - PLACE_PENALTY), 4))
                for c, named in zip(results, names)]

    def _at(self, key: str, idx: int) -> int | None:
        """Where entry ``idx`` sits in ``key``'s posting, or None if the entry lacks the word."""
        posting = self.postings.get(key)
        if posting is None:
            return None
        ids = posting[0]
        pos = int(np.searchsorted(ids, idx))
        return pos if pos < len(ids) and int(ids[pos]) == idx else None

    def _holds(self, key: str, idx: int) -> bool:
        return self._at(key, idx) is not None

    def closer_out_of_scope(self, qtext: str, numbers: set[str], entry_fuzzy: float,
                            entry_idx: int | None = None) -> str | None:
        """The out-of-scope subject this question is closer to than to its best entry (index
        ``entry_idx``), if any: see ``OutOfScopeExamples.closer``."""
        holds = None if entry_idx is None else (lambda key: self._holds(key, entry_idx))
        return self.out_of_scope.closer(qtext, numbers, entry_fuzzy, holds)

    def asks_what_it_lacks(self, toks: list[str], entry_id: str, qtypes: frozenset[str] | None = None) -> str | None:
        """Whether the question asks a kind of fact the entry cannot tell: see ``EntryFacts.lacks``."""
        idx = self.position[entry_id]
        if qtypes is None:
            qtypes = question_types(" ".join(toks))
        return self.facts.lacks(toks, qtypes, idx, lambda key: self._holds(key, idx))

    def asks_contact_it_lacks(self, text: str, entry_id: str, toks: list[str] | None = None) -> bool:
        """A phone, address or e-mail asked for (in a sentence that asks something) that the entry is
        not about. ``toks``: the question's normalised words, when the caller has them."""
        toks = normalize(text[:4000]).split() if toks is None else toks
        if not any(k in CONTACT_KEYS for t in toks for k, _ in variants(t)):
            return False
        asked = {k for toks in asked_sentences(text[:4000]) for t in toks for k, _ in variants(t)} & CONTACT_KEYS
        if not asked:
            return False
        idx = self.position[entry_id]
        for key in asked:
            pos = self._at(key, idx)
            if pos is not None and self.postings[key][2][pos] == 1.0:
                return False  # the entry is about this contact detail
        return True

    def _rerank(self, qtext: str, qwords: list[tuple[set[str], float]], qkeys: set[str],
                picked: list[int]) -> tuple[list[float], list[float]]:
        """Best fuzzy similarity and word-overlap F1 of each candidate's title/alternate questions,
        with all strings of all candidates scored in two rapidfuzz calls. The similarity is the mean
        of token_set_ratio and token_sort_ratio: token_set_ratio alone rewards a one-word question
        contained in any long text, so it is blended with the order-free full comparison."""
        if not qtext:
            return [0.0] * len(picked), [0.0] * len(picked)
        strings: list[str] = []
        owner: list[int] = []
        for n, idx in enumerate(picked):
            for text in self.fuzz_texts[idx]:
                if text:
                    strings.append(text)
                    owner.append(n)
        fuzzy = [0.0] * len(picked)
        overlap = [0.0] * len(picked)
        if not strings:
            return fuzzy, overlap
        sim = (process.cdist([qtext], strings, scorer=fuzz.token_set_ratio, dtype=np.float32)[0]
               + process.cdist([qtext], strings, scorer=fuzz.token_sort_ratio, dtype=np.float32)[0]) / 200.0
        hits: dict[str, bool] = {}
        total = sum(imp for _, imp in qwords)
        for n, text, value in zip(owner, strings, sim.tolist()):
            if value > fuzzy[n]:
                fuzzy[n] = value
            ov = word_overlap(qwords, qkeys, text, hits, total, overlap[n])
            if ov > overlap[n]:
                overlap[n] = ov
        return fuzzy, overlap

    def decide(self, results: Sequence[Candidate]) -> Decision:
        if not results:
            return "unanswered"
        t = self.thresholds
        best = results[0].score
        runner = results[1].score if len(results) > 1 else 0.0
        if best >= t.answer and (best - runner >= t.margin or best >= t.sure):
            return "answer"
        if best >= t.clarify:
            return "clarify"
        return "unanswered"
