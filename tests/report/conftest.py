"""Fixtures of the report tests: rendered PDFs (once per session) and poppler tools."""

from __future__ import annotations

import re
import shutil
import subprocess

import pytest

from gcms.report.pdf import render_pdf

from .models import full_model

#: Bidi control marks poppler puts around runs of another direction in extracted text.
BIDI_MARKS = re.compile("[\u200e\u200f\u202a-\u202e\u2066-\u2069]")


def poppler(tool: str) -> str:
    path = shutil.which(tool)
    if path is None:
        pytest.skip(f"{tool} (poppler-utils) is not installed")
    return path


def pdftotext(path, *, page: int | None = None, layout: bool = False) -> str:
    args = [poppler("pdftotext")]
    if page is not None:
        args += ["-f", str(page), "-l", str(page)]
    if layout:
        args.append("-layout")
    out = subprocess.run([*args, str(path), "-"], capture_output=True, check=True)
    return BIDI_MARKS.sub("", out.stdout.decode("utf-8"))


def page_count(path) -> int:
    out = subprocess.run([poppler("pdfinfo"), str(path)], capture_output=True, check=True,
                         text=True).stdout
    return int(re.search(r"^Pages:\s+(\d+)", out, re.M).group(1))


@pytest.fixture(scope="session")
def model():
    return full_model()


@pytest.fixture(scope="session")
def rendered(tmp_path_factory, model):
    """PDFs of the full model in en, ar and ar,en: {languages: path}."""
    folder = tmp_path_factory.mktemp("reports")
    out = {}
    for languages in ("en", "ar", "ar,en"):
        path = folder / f"report-{languages.replace(',', '-')}.pdf"
        path.write_bytes(render_pdf(model, languages=languages))
        out[languages] = path
    return out


#: The demo sequence up to its Captagon-like exhibit E1: (file, type, sample ID).
DEMO_ROWS = (("01-ladder.cdf", "ladder", "LAD-01"), ("02-blank.cdf", "blank", "BLK-01"),
             ("03-standard.cdf", "standard", "STD-01"), ("04-blank.cdf", "blank", "BLK-02"),
             ("05-exhibit-E1.cdf", "sample", "E1-01"))
DEMO_STANDARD = "Amphetamine;Methamphetamine;Caffeine;Theophylline"


def demo_subsequence(folder, rows=DEMO_ROWS):
    """Copy these demo runs into ``folder`` with their sequence CSV; returns the CSV."""
    import shutil

    from gcms.demo import demo_folder

    lines = ["file,type,sample_id,case_id,exhibit_id,reference_substance"]
    for file, kind, sample in rows:
        shutil.copyfile(demo_folder() / file, folder / file)
        lines.append(f"{file},{kind},{sample},DEMO-2024-017,{'E1' if kind == 'sample' else ''},"
                     f"{DEMO_STANDARD if kind == 'standard' else ''}")
    (folder / "sequence.csv").write_text("\n".join(lines) + "\n", encoding="utf-8")
    return folder / "sequence.csv"
