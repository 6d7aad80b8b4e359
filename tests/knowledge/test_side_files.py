import shutil
from pathlib import Path

import pytest

from knowledge.errors import KnowledgeError
from knowledge.loader import load_base

DATA = Path(__file__).parent.parent / "data"


def _base_with(tmp_path: Path, out_of_scope: str) -> Path:
    root = tmp_path / "kb"
    shutil.copytree(DATA / "good", root)
    (root / "out_of_scope.yaml").write_text(out_of_scope, encoding="utf-8")
    return root


def test_out_of_scope_subjects_load_with_file_and_line(tmp_path):
    root = _base_with(tmp_path, "schema: 1\nsubjects:\n  - subject: ארנונה\n    questions:\n"
                                "      - איך מקבלים הנחה בארנונה\n      - מתי משלמים ארנונה\n")
    kb = load_base(root)
    (subject,) = kb.out_of_scope
    assert subject.subject == "ארנונה" and subject.questions == ("איך מקבלים הנחה בארנונה", "מתי משלמים ארנונה")
    assert subject.file == "out_of_scope.yaml" and subject.line == 3


@pytest.mark.parametrize("text, needle", [
    ("schema: 1\nsubjects:\n  - subject: ארנונה\n", "out_of_scope.yaml:3: field 'questions': list at least one question"),
    ("schema: 1\nsubjects:\n  - subject: ארנונה\n    questions: [שאלה]\n    answer: x\n",
     "out_of_scope.yaml:5: field 'answer': unknown key in a subject"),
    ("schema: 1\nsubjects:\n  - ארנונה\n", "out_of_scope.yaml:3: field 'subjects': each item must be a mapping"),
    ("schema: 1\nsubjects: ארנונה\n", "field 'subjects': must be a list"),
    ("schema: 2\nsubjects: []\n", "field 'schema': schema must be 1"),
    ("- ארנונה\n", "must be a mapping with schema and subjects"),
])
def test_out_of_scope_problems_name_file_line_and_field(tmp_path, text, needle):
    with pytest.raises(KnowledgeError) as err:
        load_base(_base_with(tmp_path, text))
    assert "out_of_scope.yaml" in str(err.value) and needle in str(err.value), str(err.value)


def test_an_entrys_own_question_cannot_be_out_of_scope(tmp_path):
    # "מה התקציב של 546" is an alternate question of dec-546-budget: the two files contradict.
    root = _base_with(tmp_path, "schema: 1\nsubjects:\n  - subject: תקציבים\n    questions:\n"
                                "      - מה התקציב של 546?\n")
    with pytest.raises(KnowledgeError) as err:
        load_base(root)
    assert "out_of_scope.yaml:3:" in str(err.value) and "'dec-546-budget' (decision-546.yaml:" in str(err.value)


def test_synonym_groups_need_two_members(tmp_path):
    root = tmp_path / "kb"
    shutil.copytree(DATA / "good", root)
    (root / "synonyms.yaml").write_text("schema: 1\nsynonyms:\n  - [משלחת]\n", encoding="utf-8")
    with pytest.raises(KnowledgeError) as err:
        load_base(root)
    assert "synonyms.yaml:3: field 'synonyms'" in str(err.value) and "at least two" in str(err.value)
