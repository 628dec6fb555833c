"""Fonts embedded in reports.

* **Noto Naskh Arabic** (regular, bold; SIL Open Font License 1.1, ``OFL.txt``; from
  Debian's ``fonts-noto-core`` 20201225): a Naskh face, the style of printed official
  Arabic, with full OpenType shaping tables. Shipped here (360 kB) so an Arabic report
  looks and extracts the same on every machine. Its lam-alef forms are contextual
  glyphs rather than one ligature glyph, so text copied out of the PDF comes back in
  logical order letter by letter.
* **DejaVu Sans** (regular, bold, mono) for Latin script, digits and hashes: the copy
  matplotlib ships (a core dependency), licence in matplotlib's ``LICENSE_DEJAVU``.
"""

from __future__ import annotations

from importlib import resources
from pathlib import Path

__all__ = ["font_paths"]


def font_paths() -> dict[str, Path]:
    """Paths of the report fonts by role: sans, sans_bold, mono, arabic, arabic_bold."""
    import matplotlib

    mpl = Path(matplotlib.get_data_path()) / "fonts" / "ttf"
    here = resources.files(__name__)
    return {
        "sans": mpl / "DejaVuSans.ttf",
        "sans_bold": mpl / "DejaVuSans-Bold.ttf",
        "mono": mpl / "DejaVuSansMono.ttf",
        "arabic": Path(str(here.joinpath("NotoNaskhArabic-Regular.ttf"))),
        "arabic_bold": Path(str(here.joinpath("NotoNaskhArabic-Bold.ttf"))),
    }
