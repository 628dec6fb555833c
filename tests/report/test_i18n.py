import pytest

from gcms.errors import ProfileError
from gcms.report.i18n import load_wording


def test_packaged_arabic_names_substances_beside_the_library_name():
    wording = load_wording("ar")
    assert wording.substance("Amphetamine") == "أمفيتامين (Amphetamine)"
    assert wording.substance("Unlisted-7") == "Unlisted-7"
    assert load_wording("en").substance("Amphetamine") == "Amphetamine"


def test_a_lab_adds_substance_names_in_its_own_csv(tmp_path):
    (tmp_path / "ar.substances.csv").write_text(
        "name,translation\nMephedrone,ميفيدرون\nCaffeine,كافئين\n", encoding="utf-8")
    wording = load_wording("ar", directory=tmp_path)
    assert wording.substance("mephedrone") == "ميفيدرون (mephedrone)"
    assert wording.substance("Caffeine") == "كافئين (Caffeine)"  # the lab's spelling wins
    assert str(tmp_path / "ar.substances.csv") in wording.source


@pytest.mark.parametrize("text, message", [
    ("substance,arabic\nA,B\n", "header name,translation"),
    ("name,translation\nA\n", "line 2"),
])
def test_a_malformed_substance_csv_is_refused_by_line(tmp_path, text, message):
    (tmp_path / "ar.substances.csv").write_text(text, encoding="utf-8")
    with pytest.raises(ProfileError, match=message):
        load_wording("ar", directory=tmp_path)
