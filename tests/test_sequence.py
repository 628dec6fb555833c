import os
import pickle
import shutil
import time

import pytest

from gcms.errors import FormatError
from gcms.sequence import (
    SequenceError,
    check_evidence,
    check_sequence,
    read_sequence,
)

HEADER = "file,type,sample_id,case_id,exhibit_id,reference_substance,concentration,unit\n"


def write(tmp_path, text, name="seq.csv"):
    path = tmp_path / name
    path.write_text(text, encoding="utf-8")
    return path


def runs(folder, *names, size=64):
    """Distinct small run files (their content differs)."""
    for name in names:
        (folder / name).parent.mkdir(parents=True, exist_ok=True)
        (folder / name).write_bytes(name.encode() + bytes(size))


def test_rows_become_injections_with_resolved_paths(tmp_path):
    runs(tmp_path, "runs/001.D", "003.D")
    path = write(tmp_path, HEADER + "runs/001.D,blank,B1,C-1,,,,\n"
                 "/abs/002.D,Calibrator,S1,C-1,,Etizolam;Diazepam,25,ug/mL\n"
                 "003.D,sample,X1,C-1,E-7,,,\n")
    sequence = read_sequence(path)
    assert len(sequence) == 3
    blank, standard, sample = sequence
    assert blank.file == tmp_path / "runs" / "001.D" and blank.type == "blank"
    assert standard.type == "standard" and standard.reference_substances == ("Etizolam", "Diazepam")
    assert standard.concentration == 25.0 and standard.unit == "ug/mL"
    assert str(standard.file) == "/abs/002.D"
    assert sample.exhibit_id == "E-7" and sample.concentration is None
    assert sequence.preceding(sample, "blank") is blank
    assert sequence.preceding(blank, "blank") is None
    assert [i.sample_id for i in sequence.of_type("sample", "blank")] == ["B1", "X1"]
    assert pickle.loads(pickle.dumps(sample)) == sample
    import hashlib
    assert sequence.sha256 == hashlib.sha256(path.read_bytes()).hexdigest()
    # the missing /abs/002.D is a warning, not an error: the batch skips that run
    check = check_sequence(path)
    assert check.ok and [p.line for p in check.warnings] == [3]


def test_lab_columns_with_x_prefix_are_kept_and_sample_id_defaults_to_the_file_stem(tmp_path):
    path = write(tmp_path, "File,Type,X_Vial,Exhibit ID\nrun7.cdf,sample,12,E1\n")
    (only,) = read_sequence(path, evidence=False)
    assert only.sample_id == "run7" and only.extra["x_vial"] == "12"
    assert only.exhibit_id == "E1"  # "Exhibit ID" is exhibit_id


def test_comment_lines_before_the_header_are_skipped_and_lines_still_counted(tmp_path):
    path = write(tmp_path, "# drafted by gcms sequence import\n# types: Blank -> blank\n"
                           "file,type\na.cdf,blank\nb.cdf,injection\n")
    check = check_sequence(path, evidence=False)
    assert [(p.line, p.column) for p in check.errors] == [(5, "type")]


@pytest.mark.parametrize("text, where, message", [
    ("file,sample_id\na.D,x\n", "line 1, column type", "missing column type"),
    (HEADER + "a.D,injection,x,,,,,\n", "line 2, column type", "type 'injection' is not"),
    (HEADER + "a.D,standrd,x,,,E,1,ug/mL\n", "line 2, column type", "did you mean 'standard'"),
    (HEADER + "a.D,standard,x,,,E,ten,ug/mL\n", "line 2, column concentration",
     "concentration 'ten' is not a number"),
    (HEADER + "a.D,standard,x,,,E,25 ug/mL,\n", "line 2, column concentration",
     "put the unit in its own column"),
    (HEADER + "a.D,standard,x,,,E,\"2,5\",ug/mL\n", "line 2, column concentration",
     "decimal with a point"),
    (HEADER + "a.D,sample,x,,,,,\nb.D,sample,x,,,,,\n", "line 3, column sample_id",
     "sample_id 'x' already used on line 2"),
    (HEADER, None, "no rows"),
    ("file,type,dilution\na.D,sample,0\n", "line 2, column dilution",
     "dilution must be positive"),
    ("file,type,amount\na.D,sample,nan\n", "line 2, column amount", "amount must be finite"),
    ("file,type,amount\na.D,sample,-2\n", "line 2, column amount", "must not be negative"),
    (HEADER + "a.D,standard,x,,,,25,ug/mL\n", "line 2, column reference_substance",
     "a standard must give its reference_substance"),
    (HEADER + "a.D,standard,x,,,E,25,ppm\n", "line 2, column unit", "'ppm' is not a mass"),
    (HEADER + "a.D,standard,x,,,E,,ug/mL\n", "line 2, column unit",
     "a unit without a concentration"),
    (HEADER + "a.D,sample,x,,E1,,25,ug/mL\n", "line 2, column concentration",
     "a sample has no nominal concentration"),
    ("file,type,amount_unit\na.D,sample,mg\n", "line 2, column amount_unit",
     "a unit without an amount"),
    ("file,type,x_confirm\na.D,sample,type\n", "line 2, column x_confirm",
     "not yet confirmed: type"),
    (HEADER + ",sample,x,,,,,\n", "line 2, column file", "empty"),
    ("file,type,vial\na.D,sample,1\n", "line 1, column vial", "must start with 'x_'"),
    ("file,type,type\na.D,sample,sample\n", "line 1, column type", "appears twice"),
    ("file,type,,\na.D,sample,,7\n", "line 1, column #4", "has values but no name"),
    ("file,type\na.D,sample,extra\n", "line 2", "3 cells but the header names 2"),
])
def test_bad_sequences_name_the_file_line_and_column(tmp_path, text, where, message):
    path = write(tmp_path, text)
    with pytest.raises(SequenceError, match=message) as caught:
        read_sequence(path)
    assert isinstance(caught.value, FormatError)
    assert "nothing was processed" in str(caught.value)
    (problem,) = [p for p in caught.value.problems if message in p.message]
    assert problem.file == str(path)
    if where is not None:
        assert f"{path} {where}: " in str(problem)


@pytest.mark.parametrize("misspelt, meant", [
    ("refernce_substance", "reference_substance"),
    ("exhibt_id", "exhibit_id"),
    ("concentraton", "concentration"),
    ("Sample_ID ", None),  # only a spelling: no problem at all
])
def test_a_misspelt_column_is_an_error_with_a_did_you_mean(tmp_path, misspelt, meant):
    header = HEADER.replace(meant or "sample_id", misspelt)
    path = write(tmp_path, header + "a.cdf,standard,S1,C-1,,Etizolam,25,ug/mL\n")
    check = check_sequence(path, evidence=False)
    if meant is None:
        assert check.ok, check.text()
        return
    assert not check.ok
    (problem,) = [p for p in check.errors if p.column == misspelt]
    assert problem.line == 1
    assert f"did you mean {meant!r}" in problem.message
    assert misspelt in check.text()


def test_every_problem_is_reported_at_once(tmp_path):
    path = write(tmp_path, "file,type,sample_id,exhibt_id,concentration\n"
                           "a.cdf,blnk,A,,\n"
                           "b.cdf,sample,A,,x\n"
                           "c.cdf,standard,C,,1\n")
    check = check_sequence(path, evidence=False)
    got = [(p.line, p.column) for p in check.errors]
    assert got == [(1, "exhibt_id"), (2, "type"), (3, "sample_id"), (3, "concentration"),
                   (4, "reference_substance")]
    assert check.sequence is None
    text = check.text()
    assert text.startswith(f"{path}: INVALID, 5 errors")
    assert check.to_dict()["valid"] is False
    assert [p["severity"] for p in check.to_dict()["problems"]].count("error") == 5


def test_the_red_team_identifiers_are_refused_at_intake(tmp_path):
    path = write(tmp_path, HEADER
                 + "a.cdf,sample,S1,C-1,\u202e1E,,,\n"
                 + "b.cdf,sample,=HYPERLINK(\"http://x\"),C-1,E2,,,\n"
                 + "c.cdf,sample,+cmd|' /C calc'!A0,C-1,E3,,,\n"
                 + "d.cdf,sample,@SUM(A1),C-1,E4,,,\n"
                 + "e.cdf,sample,S5,C\u200b-1,E5,,,\n"
                 + "f.cdf,standard,S6,C-1,,Eti\u202ezolam,1,ug/mL\n")
    check = check_sequence(path, evidence=False)
    got = {(p.line, p.column): p.message for p in check.errors}
    assert set(got) == {(2, "exhibit_id"), (3, "sample_id"), (4, "sample_id"),
                        (5, "sample_id"), (6, "case_id"), (7, "reference_substance")}
    assert "U+202E RIGHT-TO-LEFT OVERRIDE" in got[2, "exhibit_id"]
    assert "U+003D EQUALS SIGN" in got[3, "sample_id"]
    assert "U+002B PLUS SIGN" in got[4, "sample_id"]
    assert "U+0040 COMMERCIAL AT" in got[5, "sample_id"]
    assert "U+200B ZERO WIDTH SPACE" in got[6, "case_id"]
    assert "U+202E" in got[7, "reference_substance"]


def test_ids_are_stored_nfc_and_arabic_ids_are_accepted(tmp_path):
    path = write(tmp_path, HEADER + "a.cdf,sample,عينة-١,قضية 7,Pie\u0301ce-1,,,\n")
    (only,) = read_sequence(path, evidence=False)
    assert only.sample_id == "عينة-١" and only.case_id == "قضية 7"
    assert only.exhibit_id == "Pi\u00e9ce-1"  # NFC: e + combining acute is one character


# -- the evidence --------------------------------------------------------------------------

def test_the_same_path_twice_is_refused_naming_both_lines(tmp_path):
    runs(tmp_path, "a.cdf", "b.cdf")
    path = write(tmp_path, HEADER + "a.cdf,standard,S1,,,E,25,ug/mL\n"
                 "b.cdf,standard,S2,,,E,50,ug/mL\n"
                 f"{tmp_path / 'a.cdf'},standard,S3,,,E,75,ug/mL\n")
    with pytest.raises(SequenceError) as caught:
        read_sequence(path)
    (problem,) = caught.value.problems
    assert (problem.line, problem.column) == (4, "file")
    assert "is the file of line 2 (sample_id 'S1') too" in problem.message


def test_a_copy_or_a_link_of_a_file_is_the_same_evidence(tmp_path):
    runs(tmp_path, "a.cdf")
    shutil.copy(tmp_path / "a.cdf", tmp_path / "copy.cdf")
    os.link(tmp_path / "a.cdf", tmp_path / "hard.cdf")
    os.symlink(tmp_path / "a.cdf", tmp_path / "soft.cdf")
    path = write(tmp_path, "file,type,sample_id\na.cdf,blank,A\ncopy.cdf,blank,B\n"
                           "hard.cdf,blank,C\nsoft.cdf,blank,D\n")
    check = check_sequence(path)
    got = {p.line: p.message for p in check.errors}
    assert set(got) == {3, 4, 5}
    assert "holds the same data (SHA-256" in got[3] and "line 2 (sample_id 'A')" in got[3]
    assert "is the file of line 2" in got[4] and "is the file of line 2" in got[5]


def test_run_folders_are_compared_by_their_data_files(tmp_path):
    for name in ("001.D", "002.D", "003.D"):
        (tmp_path / name / "AcqData").mkdir(parents=True)
        # the method and tune files are the same in every run of a sequence
        (tmp_path / name / "acqmeth.txt").write_text("same method")
        (tmp_path / name / "AcqData" / "MSTS.xml").write_text("<same/>")
    (tmp_path / "001.D" / "data.ms").write_bytes(b"run one" * 10)
    (tmp_path / "002.D" / "data.ms").write_bytes(b"run two" * 10)
    (tmp_path / "003.D" / "data.ms").write_bytes(b"run one" * 10)
    (tmp_path / "003.D" / "runstart.txt").write_text("another start")
    path = write(tmp_path, "file,type,sample_id\n001.D,blank,A\n002.D,blank,B\n003.D,blank,C\n")
    check = check_sequence(path)
    (problem,) = check.errors
    assert problem.line == 4 and "003.D (data.ms) holds the same data" in problem.message
    assert "001.D/data.ms" in problem.message


def test_a_thousand_rows_naming_one_file_are_refused_in_seconds(tmp_path):
    (tmp_path / "one.cdf").write_bytes(os.urandom(134_000))
    rows = "".join(f"one.cdf,sample,S{i},C-1,E{i},,,\n" for i in range(1000))
    path = write(tmp_path, HEADER + rows)
    started = time.perf_counter()
    check = check_sequence(path)
    seconds = time.perf_counter() - started
    assert len(check.errors) == 999 and all("is the file of line 2" in p.message
                                             for p in check.errors)
    assert seconds < 10, seconds  # generous: measured ~0.1 s


def test_check_evidence_on_a_sequence_built_in_python(tmp_path):
    from gcms.batch import sequence_of_runs

    runs(tmp_path, "a.cdf", "b.cdf")
    shutil.copy(tmp_path / "a.cdf", tmp_path / "c.cdf")
    sequence = sequence_of_runs([tmp_path / "a.cdf", tmp_path / "b.cdf", tmp_path / "c.cdf"])
    (problem,) = check_evidence(sequence)
    assert problem.line == 4 and "same data" in problem.message


def test_the_bundled_demo_sequence_is_valid():
    from gcms.demo import demo_sequence_path

    check = check_sequence(demo_sequence_path())
    assert check.ok and not check.warnings, check.text()


def test_unreadable_files_are_format_errors(tmp_path):
    with pytest.raises(FormatError, match="cannot open"):
        read_sequence(tmp_path / "absent.csv")
    latin = tmp_path / "latin.csv"
    latin.write_bytes("file,type\nr\xe9sum\xe9.cdf,sample\n".encode("latin-1"))
    with pytest.raises(FormatError, match="not a UTF-8 text file"):
        read_sequence(latin)
