"""``gcms sequence import``: a sequence drafted from the .D folders' own vendor records."""

from __future__ import annotations

import csv
import shutil

import pytest
from click.testing import CliRunner
from conftest import shared_file
from gcms_cli.main import cli

from gcms.errors import FormatError
from gcms.io.agilent_sequence import draft_sequence, read_injection, write_draft
from gcms.sequence import check_sequence

# The authors' own types (SOURCE.md, Metadata_220223.xlsx): blank, 7 calibrators, two
# check standards (QC), two case samples.
AUTHORS = {"001": "blank", **{n: "standard" for n in ("002", "003", "004", "005", "006",
                                                       "007", "008")},
           "010": "qc", "012": "qc", "014": "sample", "016": "sample"}
LEVELS = {"002": "25", "003": "50", "004": "75", "005": "100", "006": "150", "007": "200",
          "008": "250", "010": "40", "012": "125"}


def lrcfs_runs():
    raw = shared_file("lrcfs-etizolam", "raw")
    return sorted(raw.glob("*.D"))


def confirmed(path, out):
    """The draft as an analyst leaves it after checking every guess: x_confirm emptied."""
    lines = path.read_text(encoding="utf-8").splitlines(keepends=True)
    comments = [line for line in lines if line.startswith("#")]
    rows = list(csv.DictReader(line for line in lines if not line.startswith("#")))
    for row in rows:
        row["x_confirm"] = ""
    with open(out, "w", newline="", encoding="utf-8") as handle:
        handle.writelines(comments)
        writer = csv.DictWriter(handle, fieldnames=list(rows[0]))
        writer.writeheader()
        writer.writerows(rows)
    return out


@pytest.mark.shared
def test_every_lrcfs_run_gets_the_authors_type_in_acquisition_order(tmp_path):
    runs = lrcfs_runs()
    assert len(runs) == 12
    rows = draft_sequence(reversed(runs))  # given out of order: sorted by acquisition time
    got = {row.cells["sample_id"][-3:]: row for row in rows}
    assert {k: r.cells["type"] for k, r in got.items()} == AUTHORS
    assert [row.cells["sample_id"] for row in rows] == [r.name[:-2] for r in runs]
    times = [row.cells["x_acquired_utc"] for row in rows]
    assert times == sorted(times) and times[0] == "2022-02-23T14:30:34Z"
    for number, row in got.items():
        cells = row.cells
        assert cells["x_operator"] == "CN" and cells["x_tune_file"] == "stune.u"
        assert cells["x_method"] == "benzodiazepines_GCMS_10split_2022"
        assert cells["dilution"] == "1"
        if number in LEVELS:
            assert (cells["reference_substance"], cells["concentration"], cells["unit"]) == (
                "Etizolam", LEVELS[number], "ug/mL")
            assert {"reference_substance", "concentration", "unit"} <= set(row.guessed)
    # the vendor typed the check standards "Sample": qc is read from their names, a guess
    assert got["010"].cells["x_vendor_type"] == "Sample" and "type" in got["010"].guessed
    assert "Check standard" in got["010"].cells["x_type_from"]
    assert got["001"].guessed == () and got["001"].cells["x_type_from"] == "vendor type Blank"
    assert "type" not in got["002"].guessed  # the vendor's own "Calibration"
    assert got["014"].cells["exhibit_id"] == "FL21/1010" and got["014"].guessed == (
        "exhibit_id",)


@pytest.mark.shared
def test_the_draft_reads_back_and_passes_the_check_once_confirmed(tmp_path):
    out = tmp_path / "seq.csv"
    result = CliRunner().invoke(cli, ["sequence", "import", *map(str, lrcfs_runs()),
                                      "-o", str(out)])
    assert result.exit_code == 0, result.output
    assert "12 runs in acquisition order (1 blank, 7 standard, 2 qc, 2 sample)" in result.output
    assert "Calibration -> standard" in result.output or "calibration -> standard" in \
        result.output
    text = out.read_text(encoding="utf-8")
    assert text.startswith("# sequence drafted by 'gcms sequence import'")
    assert "calibration -> standard" in text
    draft = check_sequence(out)
    # only the guesses stand between the draft and a valid sequence
    assert {p.column for p in draft.errors} == {"x_confirm"} and len(draft.errors) == 11
    fixed = check_sequence(confirmed(out, tmp_path / "confirmed.csv"))
    assert fixed.ok and not fixed.warnings, fixed.text()
    assert [i.type for i in fixed.sequence] == list(AUTHORS.values())
    again = CliRunner().invoke(cli, ["sequence", "import", str(lrcfs_runs()[0]), "-o",
                                     str(out)])
    assert again.exit_code == 2 and "exists" in again.output


@pytest.mark.shared
def test_a_chemstation_folder_without_xml_is_read_from_its_data_ms_header(tmp_path):
    folder = tmp_path / "220223010.D"
    folder.mkdir()
    shutil.copy(shared_file("lrcfs-etizolam", "raw", "220223010.D", "data.ms"), folder)
    injection = read_injection(folder)
    assert injection.source == "data.ms header" and injection.vendor_type is None
    assert injection.sample_name == "40ug/mL Etizolam Check standard"
    assert injection.vial == "9" and injection.operator == "CN"
    (row,) = draft_sequence([folder])
    assert row.cells["type"] == "qc" and "type" in row.guessed
    assert row.cells["x_vendor_record"] == "data.ms header"


def masshunter_folder(root, name, sample_name, sample_type, acquired):
    folder = root / f"{name}.D"
    (folder / "AcqData").mkdir(parents=True)
    (folder / "AcqData" / "sequence.xml").write_text(
        "<SequenceTableDataSet><Sequence>"
        f"<DataFileName>{name}</DataFileName><SampleName>{sample_name}</SampleName>"
        f"<SampleType>{sample_type}</SampleType><Vial>3</Vial><Dilution>10</Dilution>"
        "</Sequence></SequenceTableDataSet>", encoding="utf-8")
    (folder / "AcqData" / "sample_info.xml").write_text(
        "<SampleInfo><Field><Name>AcqTime</Name>"
        f"<Value>{acquired}</Value></Field></SampleInfo>", encoding="utf-8")
    return folder


@pytest.mark.parametrize("sample_name, vendor, kind, guessed", [
    ("MeOH", "MatrixBlank", "blank", False),
    ("cocaine 100 ng/mL", "CC", "qc", False),
    ("QC mid", "QC", "qc", False),
    ("Cal 3", "Calibration", "standard", False),
    ("Solvent blank", "Sample", "blank", True),
    ("C8-C20 alkanes", "", "ladder", True),
    ("Exhibit 7", "Sample", "sample", False),
    ("Exhibit 7", "", "sample", True),
])
def test_vendor_types_and_name_rules(tmp_path, sample_name, vendor, kind, guessed):
    folder = masshunter_folder(tmp_path, "R1", sample_name, vendor, "2024-01-01T10:00:00Z")
    (row,) = draft_sequence([folder], relative_to=tmp_path)
    assert row.cells["type"] == kind and ("type" in row.guessed) == guessed
    assert row.cells["file"] == "R1.D" and row.cells["dilution"] == "10"


def test_formula_like_sample_names_are_written_safely(tmp_path):
    folder = masshunter_folder(tmp_path, "R1", "=HYPERLINK(\"http://x\")", "Sample",
                               "2024-01-01T10:00:00Z")
    rows = draft_sequence([folder], relative_to=tmp_path)
    assert rows[0].cells.get("exhibit_id") is None  # not a valid id: no guess
    path = write_draft(rows, tmp_path / "seq.csv")
    lines = [line for line in path.read_text(encoding="utf-8").splitlines(keepends=True)
             if not line.startswith("#")]
    (row,) = csv.DictReader(lines)
    assert row["x_sample_name"] == "'=HYPERLINK(\"http://x\")"  # text to a spreadsheet


def test_folders_that_record_nothing_or_declare_entities_are_refused(tmp_path):
    empty = tmp_path / "empty.D"
    empty.mkdir()
    with pytest.raises(FormatError, match="records nothing of its injection"):
        read_injection(empty)
    with pytest.raises(FormatError, match="not a run folder"):
        read_injection(tmp_path / "absent.D")
    hostile = masshunter_folder(tmp_path, "R2", "x", "Sample", "2024-01-01T10:00:00Z")
    (hostile / "AcqData" / "sequence.xml").write_text(
        '<!DOCTYPE x [<!ENTITY a "aaaa">]><SequenceTableDataSet/>', encoding="utf-8")
    with pytest.raises(FormatError, match="declares a DTD"):
        read_injection(hostile)
