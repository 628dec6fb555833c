"""Which names, library entries and sequence rows mean the same substance.

A sequence names the substance of a standard ("Etizolam"); a library entry carries a
name, synonyms, CAS number and InChIKey ("ETIZOLAM", CAS 40054-69-1). Two mentions are
the same substance when any of these agree:

* the names, compared as :func:`name_key` (case, spaces, punctuation and Greek letters
  folded: "N,N-Dimethylbenzylamine" = "n,n-dimethyl benzylamine");
* a name and one of the other's synonyms;
* the CAS registry numbers;
* the first two blocks of the InChIKeys (connectivity and stereochemistry; the third
  block only records protonation, so a salt and its base agree).

Stereoisomers share the first InChIKey block only: :meth:`Substance.stereoisomer_of`.
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

__all__ = ["Substance", "name_key"]

_GREEK = {"α": "alpha", "β": "beta", "γ": "gamma", "δ": "delta", "Δ": "delta"}
_NOT_ALNUM = re.compile(r"[^0-9a-z]+")


def name_key(name: str | None) -> str:
    """A name folded for comparison: lower case, Greek spelt out, only letters and digits.

    Parameters
    ----------
    name : str or None
        A substance name as a library or a lab writes it.

    Returns
    -------
    str
        The key (empty for None).

    Examples
    --------
    >>> from gcms.identify import name_key
    >>> name_key("β-Hydroxy Fentanyl"), name_key("MDMA (3,4-)")
    ('betahydroxyfentanyl', 'mdma34')
    """
    if not name:
        return ""
    text = "".join(_GREEK.get(ch, ch) for ch in str(name))
    text = unicodedata.normalize("NFKD", text)
    text = "".join(ch for ch in text if not unicodedata.combining(ch)).casefold()
    return _NOT_ALNUM.sub("", text)


def _key_blocks(inchikey: str | None, blocks: int) -> str | None:
    if not inchikey:
        return None
    parts = inchikey.strip().upper().split("-")
    if len(parts) != 3 or len(parts[0]) != 14:
        return None
    return "-".join(parts[:blocks])


@dataclass(frozen=True, slots=True)
class Substance:
    """A substance as a library entry or a sequence row names it."""

    name: str
    synonyms: tuple[str, ...] = ()
    cas: str | None = None
    inchikey: str | None = None

    @classmethod
    def from_hit(cls, hit: Any, synonyms: Iterable[str] = ()) -> Substance:
        """From a :class:`gcms.library.Hit` (and the entry's synonyms)."""
        return cls(name=hit.name or f"library entry {hit.library_index}",
                   synonyms=tuple(synonyms), cas=hit.cas or None, inchikey=hit.inchikey or None)

    @property
    def keys(self) -> frozenset[str]:
        """Folded forms of the name and every synonym."""
        return frozenset(k for k in (name_key(n) for n in (self.name, *self.synonyms)) if k)

    def matches_name(self, name: str) -> bool:
        """Whether ``name`` is this substance's name or one of its synonyms."""
        return name_key(name) in self.keys

    def same_as(self, other: Substance) -> bool:
        """Whether ``other`` is the same substance (module docstring)."""
        if self.keys & other.keys:
            return True
        if self.cas and other.cas and self.cas.strip() == other.cas.strip():
            return True
        mine, theirs = _key_blocks(self.inchikey, 2), _key_blocks(other.inchikey, 2)
        return mine is not None and mine == theirs

    def stereoisomer_of(self, other: Substance) -> bool:
        """Same skeleton (first InChIKey block), different stereochemistry."""
        mine, theirs = _key_blocks(self.inchikey, 1), _key_blocks(other.inchikey, 1)
        return mine is not None and mine == theirs and not self.same_as(other)

    def to_dict(self) -> dict[str, Any]:
        """JSON form."""
        return {"name": self.name, "synonyms": list(self.synonyms), "cas": self.cas,
                "inchikey": self.inchikey}
