"""Author the demo library: ``demo_drugs.msp`` (source) and ``demo_drugs.h5`` (compiled).

DEMO, NOT FOR CASEWORK. Every spectrum here was written by the gcms developers, not
measured and not copied from any library: for the drugs and cutting agents, the base
peak and main ions of their well-known 70 eV EI fragmentation with rounded relative
abundances; for the n-alkanes C8-C40, the CnH2n+1 / CnH2n-1 / CnH2n series model of
:func:`alkane_spectrum`. They are good enough to tell amphetamine (base peak 44) from
methamphetamine (base peak 58) in a test, not to identify anything in evidence.

Retention indices are approximate literature-style values for a 5 % phenyl
(semi-standard non-polar) column, rounded to 10 units; n-alkanes are 100 n by
definition. InChIKeys are given only where a public record in the project's test data
confirms them (the rest are left empty on purpose).

Run from the project root: ``python spectral_libraries/make_demo_library.py``.
"""

from __future__ import annotations

import math
import os
from pathlib import Path

import numpy as np

from gcms import Spectrum
from gcms.io.msp import write
from gcms.library import build_library

HERE = Path(__file__).resolve().parent
COLUMN = "semi-standard non-polar"
COMMENT = ("gcms demo library, not for casework; spectrum authored from well-known EI "
           "fragmentation (base peak and main ions, rounded abundances); RI approximate")

# name, synonyms, CAS, formula, nominal MW, InChIKey or None, approximate RI, peaks
DRUGS: list[tuple[str, tuple[str, ...], str, str, int, str | None, float, dict[int, int]]] = [
    ("Amphetamine", ("alpha-Methylphenethylamine",), "300-62-9", "C9H13N", 135,
     "KWTSXDURSIMDCE-UHFFFAOYSA-N", 1130,
     {39: 40, 40: 30, 42: 60, 44: 999, 45: 30, 51: 25, 63: 15, 65: 80, 77: 15, 89: 10,
      91: 250, 92: 60, 115: 8, 117: 6, 120: 20, 134: 10, 135: 3}),
    ("Methamphetamine", ("N-Methylamphetamine",), "537-46-2", "C10H15N", 149, None, 1180,
     {39: 20, 42: 30, 51: 10, 56: 40, 58: 999, 59: 40, 65: 50, 77: 10, 91: 120, 117: 8,
      119: 8, 134: 30, 148: 5, 149: 2}),
    ("MDA", ("3,4-Methylenedioxyamphetamine", "Tenamfetamine"), "4764-17-4", "C10H13NO2",
     179, None, 1460,
     {44: 999, 51: 100, 77: 120, 78: 40, 79: 30, 105: 30, 106: 20, 135: 250, 136: 380,
      162: 10, 179: 60}),
    ("MDMA", ("3,4-Methylenedioxymethamphetamine", "Midomafetamine"), "42542-10-9",
     "C11H15NO2", 193, None, 1500,
     {51: 60, 56: 40, 58: 999, 59: 30, 77: 80, 79: 25, 105: 20, 106: 15, 135: 150,
      136: 60, 193: 15, 194: 3}),
    ("Cocaine", ("Benzoylmethylecgonine",), "50-36-2", "C17H21NO4", 303,
     "ZPUCINDJVBIVPJ-LJISPDSOSA-N", 2190,
     {42: 200, 51: 60, 55: 80, 68: 60, 77: 250, 81: 150, 82: 999, 83: 330, 94: 220,
      96: 170, 105: 250, 122: 40, 150: 40, 182: 380, 198: 50, 272: 50, 303: 200, 304: 40}),
    ("Heroin", ("Diacetylmorphine", "Diamorphine"), "561-27-3", "C21H23NO5", 369, None,
     2610,
     {42: 200, 43: 650, 146: 120, 162: 200, 204: 370, 215: 350, 216: 150, 268: 700,
      310: 450, 327: 999, 328: 220, 369: 650, 370: 150}),
    ("6-Monoacetylmorphine", ("6-MAM", "6-Acetylmorphine"), "2784-73-8", "C19H21NO4", 327,
     None, 2520,
     {42: 180, 43: 450, 81: 60, 124: 100, 146: 120, 162: 260, 204: 280, 215: 260,
      268: 650, 285: 120, 327: 999, 328: 220}),
    ("Morphine", (), "57-27-2", "C17H19NO3", 285, "BQJCRHHNABKAKU-KBQPJGBKSA-N", 2450,
     {42: 250, 44: 350, 59: 150, 81: 150, 115: 200, 124: 250, 162: 450, 164: 110,
      174: 150, 200: 150, 215: 300, 268: 150, 284: 150, 285: 999, 286: 200}),
    ("Codeine", ("Methylmorphine",), "76-57-3", "C18H21NO3", 299, None, 2380,
     {42: 250, 59: 150, 69: 60, 81: 80, 115: 130, 124: 250, 162: 400, 188: 120, 214: 150,
      229: 280, 282: 100, 299: 999, 300: 200}),
    ("Caffeine", ("1,3,7-Trimethylxanthine",), "58-08-2", "C8H10N4O2", 194,
     "RYYVLZVUVIJVGH-UHFFFAOYSA-N", 1840,
     {42: 200, 53: 40, 55: 350, 67: 300, 81: 50, 82: 250, 94: 40, 109: 550, 110: 50,
      137: 80, 165: 40, 193: 60, 194: 999, 195: 110}),
    ("Theophylline", ("1,3-Dimethylxanthine",), "58-55-9", "C7H8N4O2", 180,
     "ZFXYFBGIUFBOJW-UHFFFAOYSA-N", 1980,
     {41: 150, 42: 150, 53: 200, 68: 350, 69: 60, 95: 400, 96: 80, 123: 200, 151: 30,
      152: 40, 180: 999, 181: 100}),
    ("Paracetamol", ("Acetaminophen", "4-Hydroxyacetanilide"), "103-90-2", "C8H9NO2", 151,
     "RZVAJINKPMORJF-UHFFFAOYSA-N", 1720,
     {42: 40, 43: 300, 52: 80, 53: 120, 79: 50, 80: 200, 81: 200, 108: 150, 109: 999,
      110: 80, 151: 600, 152: 50}),
    ("Phenacetin", ("4-Ethoxyacetanilide",), "62-44-2", "C10H13NO2", 179, None, 1680,
     {43: 300, 52: 60, 53: 80, 65: 60, 80: 200, 81: 250, 107: 100, 108: 999, 109: 700,
      110: 80, 137: 450, 179: 650, 180: 80}),
    ("Procaine", ("Novocaine",), "59-46-1", "C13H20N2O2", 236, None, 2040,
     {42: 40, 56: 40, 58: 80, 65: 60, 71: 30, 86: 999, 87: 70, 92: 80, 99: 250, 120: 200,
      121: 20, 138: 15, 164: 100, 236: 15}),
    ("Lidocaine", ("Lignocaine",), "137-58-6", "C14H22N2O", 234, None, 1870,
     {42: 30, 44: 20, 56: 30, 58: 120, 72: 50, 77: 25, 86: 999, 87: 70, 91: 30, 105: 20,
      120: 40, 219: 10, 234: 40}),
    ("Levamisole", ("Tetramisole (racemate)",), "14769-73-4", "C11H12N2S", 204, None, 1940,
     {73: 700, 77: 350, 91: 100, 100: 60, 101: 500, 102: 70, 117: 100, 121: 300, 148: 999,
      149: 150, 172: 60, 203: 450, 204: 800, 205: 120}),
    ("Benzocaine", ("Ethyl 4-aminobenzoate",), "94-09-7", "C9H11NO2", 165,
     "BLFLLBZGZJTVJG-UHFFFAOYSA-N", 1540,
     {39: 60, 63: 30, 64: 40, 65: 250, 92: 300, 93: 80, 120: 999, 121: 100, 137: 200,
      138: 30, 165: 550, 166: 60}),
    ("Ketamine", (), "6740-88-1", "C13H16ClNO", 237, None, 1890,
     {42: 40, 56: 60, 75: 40, 89: 50, 102: 120, 115: 100, 125: 60, 138: 150, 152: 200,
      166: 80, 180: 999, 181: 120, 182: 330, 209: 250, 211: 80, 237: 40, 239: 13}),
    ("Fenetylline", ("Amfetaminoethyltheophylline",), "3736-08-1", "C18H23N5O2", 341, None,
     2650,
     {42: 60, 56: 80, 65: 60, 70: 150, 91: 200, 119: 40, 180: 100, 194: 60, 207: 120,
      250: 999, 251: 160, 341: 8}),
    ("Dextromethorphan", (), "125-71-3", "C18H25NO", 271, None, 2180,
     {42: 80, 44: 80, 59: 999, 115: 100, 128: 100, 150: 400, 171: 150, 212: 100, 214: 300,
      256: 60, 270: 250, 271: 600, 272: 120}),
    ("Diazepam", (), "439-14-5", "C16H13ClN2O", 284, "AAOVKJBEBIDNHE-UHFFFAOYSA-N", 2430,
     {51: 80, 77: 150, 89: 60, 110: 80, 151: 60, 165: 150, 221: 300, 255: 120, 256: 999,
      257: 400, 258: 350, 283: 850, 284: 750, 285: 600, 286: 250}),
    ("Etizolam", (), "40054-69-1", "C17H15ClN4S", 342, "VMZUTJCNQWMAGF-UHFFFAOYSA-N", 2790,
     {137: 100, 171: 60, 224: 250, 245: 100, 266: 300, 279: 80, 281: 120, 313: 550,
      315: 200, 342: 999, 343: 220, 344: 360}),
    ("Alprazolam", (), "28981-97-7", "C17H13ClN4", 308, None, 2710,
     {204: 450, 245: 200, 273: 500, 274: 150, 279: 800, 280: 250, 281: 260, 307: 300,
      308: 999, 309: 220, 310: 330}),
    ("Ibuprofen", (), "15687-27-1", "C13H18O2", 206, None, 1620,
     {43: 100, 91: 250, 105: 100, 107: 150, 117: 200, 119: 200, 161: 999, 162: 130,
      163: 300, 206: 250}),
    ("Dimethyl sulfone", ("Methylsulfonylmethane", "MSM"), "67-71-0", "C2H6O2S", 94, None,
     920,
     {45: 120, 46: 40, 48: 40, 63: 40, 64: 30, 79: 999, 80: 30, 81: 45, 94: 600, 96: 30}),
]

#: n-alkane InChIKeys confirmed by the MassBank records of the project's test data.
ALKANE_INCHIKEYS = {
    8: "TVMXDCGIABBOFY-UHFFFAOYSA-N", 9: "BKIMMITUMNQMOS-UHFFFAOYSA-N",
    10: "DIOQZVSQGTUSAI-UHFFFAOYSA-N", 11: "RSJKGSCJYJTIGS-UHFFFAOYSA-N",
    12: "SNRUBQQJIBEYMU-UHFFFAOYSA-N", 13: "IIYFAKIEWZDVMP-UHFFFAOYSA-N",
    14: "BGHCVCJVXZWKCC-UHFFFAOYSA-N", 15: "YCOZIPAWZNQLMR-UHFFFAOYSA-N",
    16: "DCAYPVUWAIABOU-UHFFFAOYSA-N", 17: "NDJKXXJCMXVBJW-UHFFFAOYSA-N",
    18: "RZJRJXONCZWCBN-UHFFFAOYSA-N", 19: "LQERIDTXQFOHKA-UHFFFAOYSA-N",
    20: "CBFCDTFDPHXCNY-UHFFFAOYSA-N", 21: "FNAZRRHPUDJQCJ-UHFFFAOYSA-N",
    22: "HOWGUJZVBDQJKV-UHFFFAOYSA-N", 23: "FIGVVZUWCLSUEI-UHFFFAOYSA-N",
    24: "POOSGDOYLQNASK-UHFFFAOYSA-N", 25: "YKNWIILGEFFOPE-UHFFFAOYSA-N",
    26: "HMSWAIKSFDFLKN-UHFFFAOYSA-N", 27: "BJQWYEJQWHSSCJ-UHFFFAOYSA-N",
    28: "ZYURHZPYMFLWSH-UHFFFAOYSA-N", 29: "IGGUPRCHHJZPBS-UHFFFAOYSA-N",
    30: "JXTPJDDICSTXJX-UHFFFAOYSA-N",
}
ALKANE_NAMES = {8: "Octane", 9: "Nonane", 10: "Decane", 11: "Undecane", 12: "Dodecane",
                13: "Tridecane", 14: "Tetradecane", 15: "Pentadecane", 16: "Hexadecane",
                17: "Heptadecane", 18: "Octadecane", 19: "Nonadecane", 20: "Eicosane",
                21: "Heneicosane", 22: "Docosane", 23: "Tricosane", 24: "Tetracosane",
                25: "Pentacosane", 26: "Hexacosane", 27: "Heptacosane", 28: "Octacosane",
                29: "Nonacosane", 30: "Triacontane", 31: "Hentriacontane",
                32: "Dotriacontane", 33: "Tritriacontane", 34: "Tetratriacontane",
                35: "Pentatriacontane", 36: "Hexatriacontane", 37: "Heptatriacontane",
                38: "Octatriacontane", 39: "Nonatriacontane", 40: "Tetracontane"}


def alkane_spectrum(n: int) -> dict[int, int]:
    """Model EI spectrum of the n-alkane CnH2n+2 (base peak 999).

    Alkyl ions CkH2k+1 (m/z 14k+1) carry the spectrum: the strongest at C4 (m/z 57) for
    n >= 9 and at C3 (m/z 43) for octane, falling off exponentially with k towards a
    small plateau, weak again for the M-15 ion; alkenyl ions CkH2k-1 (m/z 14k-1) at about
    a third and CkH2k (m/z 14k) at a tenth of their neighbours, 13C isotope peaks at
    1.1 % per carbon, and a molecular ion (m/z 14n+2) that fades with chain length.
    """
    peaks: dict[int, float] = {}
    for k in range(2, n):
        alkyl = math.exp(-0.45 * (k - 4)) + 0.04 if k >= 4 else {2: 0.15, 3: 0.75}[k]
        if n <= 8 and k == 3:
            alkyl = 1.05
        if k == n - 1:
            alkyl *= 0.2
        peaks[14 * k + 1] = alkyl
        peaks[14 * k - 1] = peaks.get(14 * k - 1, 0.0) + alkyl * (0.35 if k <= 5 else 0.15)
        peaks[14 * k] = peaks.get(14 * k, 0.0) + alkyl * 0.1
    peaks[14 * n + 2] = 0.07 * math.exp(-0.09 * (n - 8)) + 0.004
    with_isotopes = dict(peaks)
    for mz, value in peaks.items():
        carbons = (mz - 1) // 14
        with_isotopes[mz + 1] = with_isotopes.get(mz + 1, 0.0) + value * 0.011 * carbons
    top = max(with_isotopes.values())
    return {mz: round(999 * v / top) for mz, v in sorted(with_isotopes.items())
            if round(999 * v / top) >= 1}


def demo_spectra() -> list[Spectrum]:
    """Every entry of the demo library, drugs first, then n-alkanes C8-C40."""
    out = []
    for name, synonyms, cas, formula, mw, inchikey, ri, peaks in DRUGS:
        mz = np.array(sorted(peaks), dtype=float)
        out.append(Spectrum(mz=mz, intensity=np.array([peaks[int(m)] for m in mz], float),
                            name=name, synonyms=synonyms, cas=cas, formula=formula, mw=mw,
                            inchikey=inchikey, retention_index=ri, ri_column=COLUMN,
                            comment=COMMENT))
    for n in range(8, 41):
        peaks = alkane_spectrum(n)
        mz = np.array(sorted(peaks), dtype=float)
        out.append(Spectrum(mz=mz, intensity=np.array([peaks[int(m)] for m in mz], float),
                            name=ALKANE_NAMES[n], formula=f"C{n}H{2 * n + 2}",
                            mw=14 * n + 2, inchikey=ALKANE_INCHIKEYS.get(n),
                            retention_index=100.0 * n, ri_column=COLUMN,
                            comment="gcms demo library, not for casework; n-alkane spectrum "
                                    "from the CnH2n+1 series model; RI = 100 n"))
    return out


def main() -> None:
    """Write demo_drugs.msp and compile demo_drugs.h5 beside this script."""
    # Paths relative to this folder, so the compiled library (and its content hash,
    # which covers each entry's source file name) does not depend on where it is built.
    os.chdir(HERE)
    write(demo_spectra(), "demo_drugs.msp")
    report = build_library(["demo_drugs.msp"], "demo_drugs.h5",
                           title="gcms demo library (authored, NOT FOR CASEWORK)")
    print(f"{report.path}: {report.n_entries} entries, sha256 "  # noqa: T201 - a script
          f"{report.library.content_sha256}")


if __name__ == "__main__":
    main()
