"""The front page and the manual's layout: what a newcomer and CI rely on."""

import re
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
COMMANDS = [
    "pip install . && gcms batch gcms/data/demo/sequence.csv --out demo-results",
    "pip install '.[test]' && python -m pytest -q",
]


def test_readme_is_a_short_front_page_with_the_two_commands_first():
    text = (ROOT / "README.md").read_text(encoding="utf-8")
    assert len(text.encode("utf-8")) <= 8 * 1024
    first_block = re.search(r"```\n(.*?)```", text, re.S).group(1)
    assert first_block.splitlines() == COMMANDS


def test_every_guide_page_opens_with_a_title_and_is_globbed_by_the_index():
    index = (ROOT / "docs" / "index.md").read_text(encoding="utf-8")
    assert "guide/*" in index
    pages = sorted((ROOT / "docs" / "guide").glob("*.md"))
    assert pages
    for page in pages:
        first = page.read_text(encoding="utf-8").splitlines()[0]
        assert first.startswith("# "), f"{page.name} does not open with a '# Title' line"
