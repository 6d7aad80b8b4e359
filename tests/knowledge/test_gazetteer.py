from knowledge.gazetteer import Gazetteer, asked_about, named_in
from knowledge.hebrew import normalize


def test_spellings_staff_type_are_one_locality():
    for text in ('מה ב"ש מקבלת', "באר-שבע כמרכז סייבר", "באר שבע", "ובאר שבע?"):
        assert named_in(normalize(text).split()) == ["באר שבע"], text
    assert named_in(normalize('מ"א מרחבים בהחלטה 546').split()) == ["מרחבים"]
    assert named_in(normalize("מה הקשר של חוף אשקלון").split()) == ["חוף אשקלון"]  # not אשקלון


def test_a_council_named_like_an_everyday_word_needs_the_council_word():
    assert named_in(normalize("מה זה אשכול רשויות").split()) == []
    assert named_in(normalize("מועצה אזורית אשכול").split()) == ["אשכול"]
    assert named_in(normalize("לבקש הסבר").split()) == []  # not ק"ש behind two clitics


def test_the_askers_own_town_and_a_venue_are_not_the_subject():
    assert asked_about("אני עובדת באופקים, מה בדיוק נותנים ליישובי המטרה") == []
    assert asked_about("מה רצו להשיג ביום העבודה בבאר שבע") == []
    assert asked_about("נהריה יישוב מטרה?") == ["נהריה"]
    assert asked_about("מה יש לדימונה בהחלטות") == ["דימונה"]


def test_the_base_knows_the_localities_its_entries_name():
    g = Gazetteer(["יישובי המטרה: באר שבע, דימונה וירוחם", "אשכול נגב מערבי"])
    assert g.entries["דימונה"] == {0} and g.entries["ירוחם"] == {0} and not g.knows("נהריה")
    assert g.unknown(["נהריה", "אשכול", "דימונה"]) == ("נהריה",)


def test_a_town_named_like_a_verb_or_a_noun_needs_a_council_or_city_word():
    assert asked_about("מתי יבנה בית החולים") == []  # "will build"
    assert asked_about("עיריית יבנה בהחלטה?") == ["יבנה"]
