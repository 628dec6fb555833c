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
