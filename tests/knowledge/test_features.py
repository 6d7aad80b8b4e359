from knowledge.features import SynonymTagger, decision_refs, word_overlap
from knowledge.hebrew import normalize, variants


def _toks(text):
    return normalize(text).split()


def test_decision_refs_bind_numbers_to_the_decision_word():
    assert decision_refs(_toks("מה התקציב של החלטה 546")) == {"546"}
    assert decision_refs(_toks("בהחלטת ממשלה מס' 2025")) == {"2025"}
    # the plural takes a list; a date after a single decision number is not a second reference
    assert decision_refs(_toks("החלטות 546, 2017 ו-3708")) == {"546", "2017", "3708"}
    assert decision_refs(_toks("החלטה 2025 מ-23.9.2014")) == {"2025"}
    # a number with no decision word in front of it is not a reference
    assert decision_refs(_toks("כמה כסף יש ב-546")) == set()


def test_synonym_tagger_finds_multiword_phrases_behind_clitics():
    tagger = SynonymTagger([["אורחים מחו\"ל", "משלחת"], ["צה\"ל", "צבא"]])
    assert tagger.tags(_toks("מי משלם לאורחים מחו״ל")) == ["~0"]
    assert tagger.tags(_toks("המעבר של הצבא")) == ["~1"]
    assert tagger.tags(_toks("אורחים בלי המילה השנייה")) == []


def test_word_overlap_is_an_f1_that_reads_prefixes():
    def qwords(text):
        return [({k for k, _ in variants(t)}, 1.0) for t in _toks(text)]

    q = qwords("תקציב ההחלטה")
    keys = set().union(*(ks for ks, _ in q))
    same = word_overlap(q, keys, "תקציב החלטה", {})
    half = word_overlap(q, keys, "תקציב משלחת", {})
    none = word_overlap(q, keys, "סיכום ביקור", {})
    assert same == 1.0
    assert 0.0 < half < same
    assert none == 0.0
