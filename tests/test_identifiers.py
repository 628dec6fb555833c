import csv
import io
import unicodedata

import pytest
from hypothesis import given
from hypothesis import strategies as st

from gcms.errors import GcmsError
from gcms.identifiers import (
    BIDI_CONTROLS,
    IdentifierError,
    check_identifier,
    spreadsheet_safe,
    spreadsheet_safe_row,
)


@pytest.mark.parametrize("value, field", [
    ("E1", "exhibit_id"),
    ("FL21-1010", "exhibit_id"),
    ("LR-001", "sample_id"),
    ("2024/117 (a)", "case_id"),
    ("C#12.3_b", "case_id"),
    ("عينة-١٢", "sample_id"),            # Arabic letters and Arabic-Indic digits
    ("قضية 2024/7", "case_id"),           # Arabic and Latin digits, a space
    ("عينة-A1", "sample_id"),             # Arabic mixed with Latin: allowed
    ("Échantillon 3", "sample_id"),
    ("试样-7", "sample_id"),
    ("Проба-3", "sample_id"),              # Cyrillic alone is fine
    ("j.doe@lab", "user_id"),
    ("LAB\\jdoe", "user"),
    ("_svc-gcms", "actor"),
])
def test_identifiers_of_any_script_pass(value, field):
    assert check_identifier(value, field) == value


def test_values_are_returned_nfc():
    decomposed = "E\u0301chantillon"  # E + combining acute
    assert check_identifier(decomposed, "sample_id") == "\u00c9chantillon"


@pytest.mark.parametrize("char", sorted(BIDI_CONTROLS))
def test_every_bidi_control_is_refused_by_code_point_and_name(char):
    with pytest.raises(IdentifierError) as caught:
        check_identifier(f"E{char}1", "exhibit_id", source="seq.csv line 3, column exhibit_id")
    message = str(caught.value)
    assert message.startswith("seq.csv line 3, column exhibit_id: exhibit_id")
    assert f"U+{ord(char):04X}" in message and unicodedata.name(char) in message
    assert "bidirectional" in message


def test_the_red_team_rlo_exhibit_is_refused():
    with pytest.raises(IdentifierError, match="U\\+202E RIGHT-TO-LEFT OVERRIDE at position 1"):
        check_identifier("\u202e1E", "exhibit_id")
    # the message escapes the control so that it cannot reorder the message itself
    with pytest.raises(IdentifierError) as caught:
        check_identifier("\u202e1E", "exhibit_id")
    assert "\u202e" not in str(caught.value) and "\\u202e" in str(caught.value)


@pytest.mark.parametrize("char, name", [
    ("\u200b", "ZERO WIDTH SPACE"),
    ("\u200c", "ZERO WIDTH NON-JOINER"),
    ("\u200d", "ZERO WIDTH JOINER"),
    ("\u2060", "WORD JOINER"),
    ("\ufeff", "ZERO WIDTH NO-BREAK SPACE"),
    ("\u00ad", "SOFT HYPHEN"),
    ("\u2028", "LINE SEPARATOR"),
    ("\u2029", "PARAGRAPH SEPARATOR"),
    ("\x00", "<control>"),
    ("\t", "<control>"),
    ("\n", "<control>"),
    ("\u00a0", "NO-BREAK SPACE"),
    ("\u3000", "IDEOGRAPHIC SPACE"),
    ("\ue000", "<private use>"),
])
def test_invisible_characters_are_refused(char, name):
    with pytest.raises(IdentifierError, match=f"U\\+{ord(char):04X} {name}"):
        check_identifier(f"E{char}1", "sample_id")


@pytest.mark.parametrize("value, message", [
    ("", "sample_id is empty"),
    ("   ", "sample_id is empty"),
    (" E1", "leading or trailing whitespace"),
    ("E1 ", "leading or trailing whitespace"),
    ("E  1", "two spaces"),
    ("x" * 121, "121 characters"),
    ("=HYPERLINK(\"http://x\",\"y\")", "U\\+003D EQUALS SIGN"),
    ("+cmd|' /C calc'!A0", "U\\+002B PLUS SIGN"),
    ("@SUM(A1:A2)", "U\\+0040 COMMERCIAL AT"),
    ("-2+3", "must start with a letter or digit"),
    ("A|B", "U\\+007C VERTICAL LINE"),
    ("E1²", "U\\+00B2 SUPERSCRIPT TWO"),
    ("\u0301E", "combining mark with no letter"),
    ("\u0415\u0031", None),  # Cyrillic Е alone is a single script: allowed
])
def test_refusals_name_the_problem(value, message):
    if message is None:
        assert check_identifier(value, "sample_id") == value
        return
    with pytest.raises(IdentifierError, match=message):
        check_identifier(value, "sample_id")


def test_latin_and_cyrillic_look_alikes_are_refused():
    with pytest.raises(IdentifierError, match="mixes Latin and Cyrillic.*U\\+0415 CYRILLIC"):
        check_identifier("AB-\u0415", "exhibit_id")  # Cyrillic Е after Latin letters


def test_user_ids_have_their_own_set():
    with pytest.raises(IdentifierError, match="U\\+002F SOLIDUS"):
        check_identifier("a/b", "user_id")
    with pytest.raises(IdentifierError, match="U\\+0040"):
        check_identifier("a@b", "case_id")


def test_identifier_error_is_a_gcms_error():
    assert issubclass(IdentifierError, GcmsError)
    with pytest.raises(IdentifierError, match="must be text"):
        check_identifier(12, "case_id")


@given(st.text(max_size=30))
def test_anything_accepted_is_visible_nfc_and_formula_free(value):
    try:
        out = check_identifier(value, "exhibit_id")
    except IdentifierError:
        return
    assert out == unicodedata.normalize("NFC", out) and out == out.strip()
    assert not any(unicodedata.category(c) in {"Cf", "Cc", "Zl", "Zp", "Co", "Cn"} for c in out)
    assert spreadsheet_safe(out) == out


# --- spreadsheet_safe ------------------------------------------------------------------

@pytest.mark.parametrize("cell, expected", [
    ("=HYPERLINK(\"http://evil\",\"click\")", "'=HYPERLINK(\"http://evil\",\"click\")"),
    ("+cmd|' /C calc'!A0", "'+cmd|' /C calc'!A0"),
    ("-2+3+cmd|' /C calc'!A0", "'-2+3+cmd|' /C calc'!A0"),
    ("@SUM(1+1)*cmd|' /C calc'!A0", "'@SUM(1+1)*cmd|' /C calc'!A0"),
    ("\t=1+1", "'\t=1+1"),
    ("\r=1+1", "'\r=1+1"),
    ("E1", "E1"),
    ("a=b", "a=b"),
    ("", ""),
    ("-3.20", "-3.20"),          # a plain number stays a number
    ("+1e-5", "+1e-5"),
    ("-", "'-"),
    ("-1-1", "'-1-1"),
])
def test_formula_cells_get_a_leading_quote(cell, expected):
    assert spreadsheet_safe(cell) == expected


@pytest.mark.parametrize("cell", [-3.5, -1, 0, 2.25, None, True])
def test_values_that_are_not_strings_are_untouched(cell):
    assert spreadsheet_safe(cell) is cell


def test_rows_as_a_spreadsheet_reads_them():
    row = {"sample_id": "=HYPERLINK(\"x\")", "rt_min": -0.012, "note": "@SUM(A1)", "n": None}
    buffer = io.StringIO()
    writer = csv.DictWriter(buffer, fieldnames=list(row))
    writer.writeheader()
    writer.writerow(spreadsheet_safe_row(row))
    writer = csv.writer(buffer)
    writer.writerow(spreadsheet_safe_row(["+cmd|x", 3, "ok"]))
    rows = list(csv.reader(io.StringIO(buffer.getvalue())))
    # a spreadsheet evaluates a cell as a formula only when its first character is one of
    # = + - @ (after any tab/CR); every text cell read back starts otherwise, or is a number
    for cells in rows[1:]:
        for cell in cells:
            stripped = cell.lstrip("\t\r")
            if stripped[:1] in ("=", "+", "-", "@"):
                float(stripped)  # only plain numbers may start so
    assert rows[1] == ["'=HYPERLINK(\"x\")", "-0.012", "'@SUM(A1)", ""]
    assert rows[2] == ["'+cmd|x", "3", "ok"]
