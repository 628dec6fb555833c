"""Write CHANGELOG.md from the history (``git log``), grouped by wave and theme.

Run from the repository root: ``python docs/make_changelog.py``. Each line is a commit's
own message with its hash; the theme comes from the issue a message names, else from its
``area:`` prefix, else from its words (first matching rule).
"""

import re
import subprocess
from pathlib import Path

ISSUE_16 = "Typed results, layers, configuration, manual (issue 16)"
ISSUE_17 = "Re-screening and distributed processing (issue 17)"
ISSUE_18 = "Working beside AMDIS and NIST MS Search; library governance (issue 18)"
ISSUE_15 = "Review workstation (issue 15)"
READING = "Reading files"
LIBRARY = "Libraries and search"
SIGNAL = "Signal processing and deconvolution"
IDENTIFY = "Retention indices, identification and batch"
PROJECT = "Project, CI, dependencies and tests"

#: (theme, pattern) in order; the issue themes apply only to the second wave.
RULES = [
    (ISSUE_17, r"rescreen|distributed|cluster|dask|archive"),
    (ISSUE_18, r"\.elu|srcreslt|hit list|compare|write_msl|msl librar|library diff"
               r"|library export"),
    (ISSUE_16, r"^results|results\.schema|gcms\.results|^config|one atomic|manual|mypy"
               r"|py\.typed|numpydoc|instead of (a second|two|three|four|ten) cop|one loop"
               r"|one check of|one helper"),
    (ISSUE_15, r"workstation|^review|queues|sign-in|decision"),
    ("Reports", r"report|pades|arabic|wording|pdf"),
    ("Quantitation", r"quant|calibrat(or|ion plot)|internal standard"),
    ("Instrument QA", r"\bqa\b|tune|ladder qa|suitability|westgard|peak figures"
                      r"|check-standard|check standard"),
    ("Chain of custody", r"custody|case store|store adopt|\bkey\b|users and roles"
                         r"|case correct|identifiers|case, exhibit"),
    (READING, r"^io:|reader|andi|netcdf|agilent|\bmsp\b|mzml|jcamp|massbank|sniff|\.ch\b"
              r"|numpress|evidence_bytes|notarunerror|mass ?hunter|byte-offset"),
    (LIBRARY, r"librar|search|scor|presearch|identity match|probability"),
    (SIGNAL, r"deconvol|signal|find_peaks|nnls|purity|bleed|simulate|peak crossings"
             r"|overloaded|shadow"),
    (IDENTIFY, r"retention|ladder|identif|batch|blank|diagnostic|targeted|sequence"
               r"|results\.json|demo|target list|carry-over|verdict|lookalike|csv|cache"),
    (PROJECT, r"."),
]
PREFIX = {
    "io": READING, "mzml readers": READING, "agilent": READING, "msp": READING,
    "jcamp-dx": READING, "massbank": READING, "netcdf": READING, "andi ms": READING,
    "library": LIBRARY, "library search": LIBRARY, "library scan": LIBRARY,
    "library build": LIBRARY, "fast presearch": LIBRARY, "library add": LIBRARY,
    "deconvolution": SIGNAL, "gcms.signal": SIGNAL, "find_peaks": SIGNAL,
    "deconvolution tests": SIGNAL,
    "report": "Reports", "reports": "Reports", "report control": "Reports",
    "report issue": "Reports", "report signing": "Reports", "report wording": "Reports",
    "report adapter": "Reports",
    "custody": "Chain of custody", "custody log": "Chain of custody",
    "custody cli": "Chain of custody", "identifiers": "Chain of custody",
    "qa": "Instrument QA", "quantitation": "Quantitation",
    "batch": IDENTIFY, "identify": IDENTIFY, "sequence intake": IDENTIFY, "csv": IDENTIFY,
    "batch of a folder": ISSUE_17, "rescreen": ISSUE_17, "distributed": ISSUE_17,
    "compare": ISSUE_18, "hit lists": ISSUE_18, "library diff": ISSUE_18,
    "results": ISSUE_16, "config": ISSUE_16,
    "pyproject": PROJECT, "kernels": PROJECT,
}
ISSUES = {"15": ISSUE_15, "16": ISSUE_16, "17": ISSUE_17, "18": ISSUE_18, "20": READING}
FIRST = "First wave (2026-11-23)"
SECOND = "Second wave (2026-12-07, so far)"
INTRO = {
    SECOND: "Hardening and trust (issues 13, 14 and 20: authenticated people and controlled "
            "reports, sequence intake and verdicts that hold under cross-examination, "
            "readers that lose nothing silently and bound what they allocate), then the "
            "second wave's issues 15-19 as they land.",
    FIRST: "The foundation and the stages of a lab's workflow (issues 2-8 and 10): the "
           "`Run` model and readers for every file a lab's instruments write, reference "
           "libraries and NIST-compatible search, deconvolution, retention indices, "
           "identification criteria and batch processing, chain of custody, reports, "
           "instrument QA and quantitation.",
}


def _theme(subject: str, second: bool) -> str:
    low = subject.lower()
    body = re.sub(r"^(tests|readme|benchmarks(/readme)?|docs|deps|ci)( \([^)]*\))?: ", "",
                  low)
    issue = re.search(r"\(issue (\d+)", low)
    if issue and issue.group(1) in ISSUES and second:
        return ISSUES[issue.group(1)]
    prefix = body.split(":", 1)[0] if ":" in body[:40] else ""
    theme = PREFIX.get(prefix)
    if theme is not None and (second or "issue" not in theme):
        return theme
    return next(name for name, pattern in RULES
                if re.search(pattern, body) and (second or "issue" not in name))


def _wrap(text: str, width: int = 88) -> list[str]:
    lines, line = [], ""
    for word in text.split():
        if line and len(line) + 1 + len(word) > width:
            lines.append(line)
            line = word
        else:
            line = f"{line} {word}" if line else word
    return [*lines, line] if line else lines


def main() -> None:
    """Write CHANGELOG.md at the repository root."""
    log = subprocess.run(
        ["git", "log", "--reverse", "--format=%h%x09%ad%x09%s", "--date=short"],
        capture_output=True, text=True, check=True).stdout.splitlines()
    groups: dict[str, dict[str, list[tuple[str, str]]]] = {FIRST: {}, SECOND: {}}
    for line in log:
        commit, date, subject = line.split("\t", 2)
        wave = SECOND if date >= "2026-12-01" else FIRST
        theme = _theme(subject, wave == SECOND)
        groups[wave].setdefault(theme, []).append((commit, subject))
    out = ["# Changelog", "",
           *_wrap("What changed, from the project's history (`git log --oneline`), grouped "
                  "by wave and theme, newest first; each line is a commit's own message "
                  "with its hash. Version 0.1.0 has not been released: everything below "
                  "is in it. Made by `python docs/make_changelog.py`."), ""]
    for wave in (SECOND, FIRST):
        out += [f"## {wave}", "", *_wrap(INTRO[wave]), ""]
        for theme, _ in RULES:
            items = groups[wave].get(theme)
            if items:
                out += [f"### {theme}", ""]
                out += [f"- {subject} (`{commit}`)" for commit, subject in reversed(items)]
                out.append("")
    Path("CHANGELOG.md").write_text("\n".join(out).rstrip() + "\n", encoding="utf-8")


if __name__ == "__main__":
    main()
