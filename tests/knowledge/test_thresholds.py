from knowledge.out_of_scope import OutOfScopeExamples
from knowledge.hebrew import content_tokens
from knowledge.schema import OutOfScope
from knowledge.thresholds import DEFAULT, Thresholds


def test_the_defaults_are_the_calibrated_ones():
    # docs/matching.md states these; a change must be recalibrated and documented there too.
    assert (DEFAULT.answer, DEFAULT.margin, DEFAULT.sure, DEFAULT.clarify) == (0.60, 0.01, 0.75, 0.42)
    assert (DEFAULT.option, DEFAULT.oos_floor, DEFAULT.oos_lead, DEFAULT.oos_same) == (0.25, 0.60, -0.05, 0.95)


def test_the_out_of_scope_check_reads_its_floor_from_the_thresholds():
    subjects = [OutOfScope("שכר", ("כמה מרוויחה מנהלת קהילה מיטיבה ביישוב",), "f")]
    q = " ".join(content_tokens("כמה מרוויחה מנהלת בקהילה"))
    assert OutOfScopeExamples(subjects).closer(q, set(), 0.5) == "שכר"
    assert OutOfScopeExamples(subjects, Thresholds(oos_floor=0.99)).closer(q, set(), 0.5) is None
