"""Target lists: the shipped UN schedules checked against independent sources; the schema."""

from __future__ import annotations

import json

import pytest
from conftest import shared_file

from gcms.errors import CriteriaError
from gcms.identify import Substance, load_criteria
from gcms.identify.targets import available_target_lists, load_targets

SHIPPED = load_targets(["un-conventions", "adulterants"])

#: What the brief of this list asks to be exact about (INCB Yellow / Green Lists).
EXPECTED = {
    "Amphetamine": {"UN 1971": "Schedule II"},
    "Methamphetamine": {"UN 1971": "Schedule II"},
    "MDMA": {"UN 1971": "Schedule I"},
    "MDA": {"UN 1971": "Schedule I"},
    "Fenetylline": {"UN 1971": "Schedule II"},
    "Cocaine": {"UN 1961": "Schedule I"},
    "Heroin": {"UN 1961": "Schedules I and IV"},
    "Morphine": {"UN 1961": "Schedule I"},
    "Codeine": {"UN 1961": "Schedule II"},
    "Delta-9-Tetrahydrocannabinol": {"UN 1971": "Schedule II"},
    "LSD": {"UN 1971": "Schedule I"},
    "Psilocybin": {"UN 1971": "Schedule I"},
    "Etizolam": {"UN 1971": "Schedule IV"},
    "Diazepam": {"UN 1971": "Schedule IV"},
    "Alprazolam": {"UN 1971": "Schedule IV"},
    "Ketamine": {},        # not under international control
    "Tramadol": {},        # not under international control
    "Caffeine": {},
}


def test_shipped_lists_are_package_data_with_their_sources():
    assert {"un-conventions", "adulterants"} <= set(available_target_lists())
    ids = {s["id"]: s for s in SHIPPED.sources}
    assert set(ids) == {"UN 1961", "UN 1971"}
    assert "Yellow List" in ids["UN 1961"]["document"] and ids["UN 1961"]["date"]
    assert "Green List" in ids["UN 1971"]["document"] and "2020" in ids["UN 1971"]["edition"]
    assert all(f["date"] for f in SHIPPED.files)


@pytest.mark.parametrize(("name", "schedules"), sorted(EXPECTED.items()))
def test_schedules_of_the_substances_labs_meet_most(name, schedules):
    target = SHIPPED.find(Substance(name))
    assert target is not None, name
    assert dict(target.controlled) == schedules


def test_synonyms_and_inchikeys_find_the_target():
    assert SHIPPED.find(Substance("Diacetylmorphine")).name == "Heroin"
    assert SHIPPED.find(Substance("Captagon")).name == "Fenetylline"
    # a salt: the InChIKey's third block differs, the first two decide
    assert SHIPPED.find(Substance("x", inchikey="VMZUTJCNQWMAGF-UHFFFAOYSA-O")).name == "Etizolam"
    assert SHIPPED.find(Substance("2-ETHYL-2-PROPANOL")) is None
    scope = SHIPPED.scope(Substance("ETIZOLAM"))
    assert scope["in_scope"] and scope["controlled"] == [
        "Convention on Psychotropic Substances, 1971: Schedule IV"]
    assert "Green List" in scope["schedules"][0]["basis"]


def test_inchikeys_are_those_of_the_smiles():
    """Independent: RDKit computes each InChIKey from the SMILES the list gives."""
    chem = pytest.importorskip("rdkit.Chem")
    from rdkit import RDLogger

    RDLogger.DisableLog("rdApp.*")
    for target in SHIPPED.targets:
        assert target.smiles and target.substance.inchikey, target.name
        molecule = chem.MolFromSmiles(target.smiles)
        assert molecule is not None, target.name
        assert chem.MolToInchiKey(molecule) == target.substance.inchikey, target.name


def test_inchikeys_agree_with_massbank_records():
    """Independent: the InChIKeys MassBank's contributors give for the same names.

    Each target must agree with a record of its name, except where the record is wrong:
    MassBank's one "codeine" record (JP003853) gives SMILES and InChIKey of a ring-methyl
    analogue (C-methyl where codeine has its 3-methoxy group), not codeine.
    """
    folder = shared_file("massbank-ei")
    wrong = {"MSBNK-Fac_Eng_Univ_Tokyo-JP003853.txt"}
    wanted = {t.name.casefold(): t for t in SHIPPED.targets}
    keys: dict[str, set[str]] = {}
    for record in folder.rglob("MSBNK*.txt"):
        if record.name in wrong:
            continue
        lines = record.read_text(encoding="utf-8", errors="strict").splitlines()
        names = [line[9:].strip().casefold() for line in lines if line.startswith("CH$NAME: ")]
        key = next((line.split()[-1] for line in lines
                    if line.startswith("CH$LINK: INCHIKEY ")), None)
        name = next((n for n in names if n in wanted), None)
        if name is not None and key is not None:
            keys.setdefault(name, set()).add("-".join(key.split("-")[:2]))
    assert len(keys) >= 4
    for name, found in keys.items():
        ours = "-".join(wanted[name].substance.inchikey.split("-")[:2])
        assert ours in found, (name, ours, found)


def test_a_lab_list_adds_schedules_and_substances(tmp_path):
    lab = tmp_path / "lab.toml"
    lab.write_text('[list]\nname = "lab"\n[[source]]\nid = "UK"\ntitle = "Misuse of Drugs '
                   'Act 1971"\n[[substance]]\nname = "Ketamine"\ncontrolled = { "UK" = '
                   '"Class B" }\n[[substance]]\nname = "Nitrous oxide"\n', encoding="utf-8")
    merged = load_targets(["un-conventions", lab])
    ketamine = merged.find(Substance("Ketamine"))
    assert dict(ketamine.controlled) == {"UK": "Class B"}
    assert ketamine.lists == ("un-conventions", "lab")
    assert merged.find(Substance("nitrous oxide")).controlled == ()
    assert len(merged.targets) == len(load_targets(["un-conventions"]).targets) + 1


@pytest.mark.parametrize(("text", "message"), [
    ('[[substance]]\nname = "X"\nsynonym = ["Y"]\n', "did you mean 'synonyms'"),
    ('[[substance]]\nname = "X"\ncontrolled = { "UN 1972" = "I" }\n',
     "'UN 1972' is not a [[source]] id"),
    ('[[substance]]\nname = "X"\ninchikey = "NOT-A-KEY"\n', "is not an InChIKey"),
    ('[[substance]]\nname = "X"\nrt_s = 300\n', "rt_s and rt_window_s go together"),
    ('[lst]\nname = "x"\n', "did you mean 'list'"),
    ('[[substance]]\nname = "X"\nri = 1200\nri_window = -5\n', "ri_window: must be > 0"),
])
def test_bad_target_lists_are_refused_naming_file_and_key(tmp_path, text, message):
    path = tmp_path / "bad.toml"
    path.write_text('[[source]]\nid = "UN 1971"\n' + text, encoding="utf-8")
    with pytest.raises(CriteriaError, match="bad.toml") as info:
        load_targets([path])
    assert message in str(info.value)


def test_a_json_list_reads_as_its_toml_twin_and_bad_json_is_named(tmp_path):
    toml = tmp_path / "lab.toml"
    toml.write_text('[list]\nname = "lab"\n[[source]]\nid = "NL"\n[[substance]]\n'
                    'name = "Ketamine"\ncontrolled = { "NL" = "List I" }\n', encoding="utf-8")
    twin = tmp_path / "lab.json"
    twin.write_text(json.dumps({"list": {"name": "lab"}, "source": [{"id": "NL"}],
                                "substance": [{"name": "Ketamine",
                                               "controlled": {"NL": "List I"}}]}),
                    encoding="utf-8")
    a, b = load_targets([toml]), load_targets([twin])
    assert [t.substance.name for t in a.targets] == [t.substance.name for t in b.targets]
    assert a.controlled_under(a.targets[0]) == b.controlled_under(b.targets[0])
    twin.write_text('{"substance": [', encoding="utf-8")
    with pytest.raises(CriteriaError, match="lab.json: invalid JSON"):
        load_targets([twin])


def test_a_profile_names_its_lists_and_relative_paths_resolve(tmp_path):
    (tmp_path / "lists").mkdir()
    (tmp_path / "lists" / "mine.toml").write_text('[[substance]]\nname = "Nitrous oxide"\n',
                                                  encoding="utf-8")
    profile = tmp_path / "p.toml"
    profile.write_text('[profile]\nname = "lab"\n[scope]\ntargets = ["lists/mine.toml"]\n'
                       'out_of_scope = "omit"\n', encoding="utf-8")
    criteria = load_criteria(profile)
    assert criteria.scope.out_of_scope == "omit"
    assert [t.name for t in criteria.target_list.targets] == ["Nitrous oxide"]
    recorded = criteria.to_dict()["scope"]
    assert recorded["targets"] == ["lists/mine.toml"]
    assert recorded["target_list"]["files"][0]["source"] == str(tmp_path / "lists" / "mine.toml")
    profile.write_text('[profile]\nname = "lab"\n[scope]\nout_of_scope = "drop"\n',
                       encoding="utf-8")
    with pytest.raises(CriteriaError, match="scope.out_of_scope"):
        load_criteria(profile)
    assert load_criteria("swgdrug-gcms").target_list is not None


def test_retention_windows_of_a_target(tmp_path):
    path = tmp_path / "windows.toml"
    path.write_text('[[substance]]\nname = "Etizolam"\nrt_s = 615.0\nrt_window_s = 6.0\n'
                    'ri = 2750.0\nri_window = 30.0\n[[substance]]\nname = "Free"\n',
                    encoding="utf-8")
    listed = load_targets([path])
    etizolam, free = listed.targets
    assert etizolam.within_windows(614.2, None)                 # no RI: the RT decides
    assert not etizolam.within_windows(622.0, None)             # 7 s off
    assert etizolam.within_windows(612.0, 2730.0)
    assert not etizolam.within_windows(612.0, 2700.0)           # ΔRI 50 > 30
    assert free.within_windows(100.0, 900.0)                    # no window: everywhere
    merged = load_targets(["un-conventions", path])             # the lab's windows kept
    assert merged.find(Substance("Etizolam")).rt_window_s == 6.0
    assert dict(merged.find(Substance("Etizolam")).controlled) == {"UN 1971": "Schedule IV"}
