"""The laboratory profile (TOML): what a report header says, and every mistake named."""

from __future__ import annotations

import pytest

from gcms.errors import ProfileError
from gcms.report.lab import UNCONFIGURED, load_lab_profile

PROFILE = '''schema = "gcms-lab-profile/1"

[laboratory]
name = "Forensic Chemistry Laboratory"
address = ["1 Science Road", "Example City"]
accreditation = "ISO/IEC 17025:2017, accreditation no. T-0001"
location = "Drug chemistry, room 2.14"
contact = "+00 000 0000"
{logo}
[laboratory.ar]
name = "مختبر الكيمياء الجنائية"
address = ["١ طريق العلوم"]
accreditation = "ISO/IEC 17025:2017، شهادة اعتماد رقم T-0001"
{ar_location}
[report]
languages = ["ar", "en"]
'''


def _profile(folder, *, logo="", ar_location='location = "قسم كيمياء المخدرات"', extra=""):
    path = folder / "lab.toml"
    path.write_text(PROFILE.format(logo=logo, ar_location=ar_location) + extra,
                    encoding="utf-8")
    return path


def test_a_full_profile_in_two_languages(tmp_path):
    import matplotlib.pyplot as plt

    figure = plt.figure(figsize=(1, 1))
    figure.savefig(tmp_path / "logo.png")
    plt.close(figure)
    profile = load_lab_profile(_profile(tmp_path, logo='logo = "logo.png"'))
    lab = profile.laboratory
    assert profile.languages == ("ar", "en") and profile.translations is None
    assert lab.logo == str((tmp_path / "logo.png").resolve())
    assert lab.name_in("en") == ("Forensic Chemistry Laboratory",
                                 ("1 Science Road", "Example City"))
    assert lab.name_in("ar") == ("مختبر الكيمياء الجنائية", ("١ طريق العلوم",))
    assert lab.accreditation_in("ar") == "ISO/IEC 17025:2017، شهادة اعتماد رقم T-0001"
    assert lab.accreditation_in("en") == lab.accreditation
    assert lab.location_in("ar") == "قسم كيمياء المخدرات"
    assert lab.location_in("fr") == "Drug chemistry, room 2.14"


def test_a_language_may_leave_the_place_of_testing_to_the_main_text(tmp_path):
    lab = load_lab_profile(_profile(tmp_path, ar_location="")).laboratory
    assert lab.location_in("ar") == "Drug chemistry, room 2.14"


@pytest.mark.parametrize("extra, message", [
    ('[laboratory.fr]\nname = "Laboratoire"\nadress = ["typo"]\n',
     r"laboratory\.fr\.adress: unknown key \(did you mean 'address'"),
    ('[printing]\ncolour = true\n', "unknown key"),
    ('[report.x]\n', r"report\.x: unknown key"),
])
def test_a_misspelt_key_is_refused_by_name(tmp_path, extra, message):
    path = _profile(tmp_path, extra=extra)
    with pytest.raises(ProfileError, match=message) as caught:
        load_lab_profile(path)
    assert str(path) in str(caught.value)


def test_missing_and_wrong_parts_are_named(tmp_path):
    path = tmp_path / "lab.toml"
    path.write_text('schema = "gcms-lab-profile/2"\n[laboratory]\nname = "L"\n',
                    encoding="utf-8")
    with pytest.raises(ProfileError, match="gcms-lab-profile/2"):
        load_lab_profile(path)
    path.write_text('[laboratory]\naddress = ["x"]\n', encoding="utf-8")
    with pytest.raises(ProfileError, match="laboratory.name"):
        load_lab_profile(path)
    path.write_text('[laboratory]\nname = "L"\nlogo = "missing.png"\n', encoding="utf-8")
    with pytest.raises(ProfileError, match="missing.png does not exist"):
        load_lab_profile(path)
    path.write_text('[laboratory]\nname = "L"\n[report]\ntranslations = "words"\n',
                    encoding="utf-8")
    with pytest.raises(ProfileError, match="is not a folder"):
        load_lab_profile(path)
    path.write_text('[laboratory\nname = "L"\n', encoding="utf-8")
    with pytest.raises(ProfileError, match="invalid TOML"):
        load_lab_profile(path)
    with pytest.raises(ProfileError, match="cannot read"):
        load_lab_profile(tmp_path / "absent.toml")


def test_without_a_profile_the_header_says_so():
    assert "not configured" in UNCONFIGURED.name and UNCONFIGURED.accreditation is None
