import pickle

import pytest

from gcms.errors import FormatError
from gcms.sequence import read_sequence

HEADER = "file,type,sample_id,case_id,exhibit_id,reference_substance,concentration,unit\n"


def write(tmp_path, text, name="seq.csv"):
    path = tmp_path / name
    path.write_text(text)
    return path


def test_rows_become_injections_with_resolved_paths(tmp_path):
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


def test_extra_columns_are_kept_and_sample_id_defaults_to_the_file_stem(tmp_path):
    path = write(tmp_path, "File,Type,Vial\nrun7.cdf,sample,12\n")
    (only,) = read_sequence(path)
    assert only.sample_id == "run7" and only.extra["vial"] == "12"


@pytest.mark.parametrize("text, message", [
    ("file,sample_id\na.D,x\n", "missing column"),
    (HEADER + "a.D,injection,x,,,,,\n", "line 2: type 'injection'"),
    (HEADER + "a.D,standard,x,,,E,ten,ug/mL\n", "line 2: concentration 'ten'"),
    (HEADER + "a.D,sample,x,,,,,\nb.D,sample,x,,,,,\n", "line 3: sample_id 'x' already used"),
    (HEADER, "no rows"),
    ("file,type,dilution\na.D,sample,0\n", "dilution must be positive"),
    ("file,type,amount\na.D,sample,nan\n", "finite"),
])
def test_bad_sequences_name_the_file_line_and_column(tmp_path, text, message):
    path = write(tmp_path, text)
    with pytest.raises(FormatError, match=message) as caught:
        read_sequence(path)
    assert str(path) in str(caught.value)


def test_missing_file_is_a_format_error(tmp_path):
    with pytest.raises(FormatError, match="cannot open"):
        read_sequence(tmp_path / "absent.csv")
