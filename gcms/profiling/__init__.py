"""Drug impurity profiling and seizure linkage.

A profiling method (:mod:`gcms.profiling.method`) names the target compounds of a drug class,
how their peak areas are normalised and which metric compares two exhibits. From there:

* :func:`measure_profile` integrates each target of a run (the quantitation integration,
  :mod:`gcms.quantitation.integration`) and normalises the areas into a :class:`Profile`;
* :func:`compare` scores two profiles, :func:`scores` one profile against many;
* :mod:`gcms.profiling.simulate` makes known-linked and unlinked profile sets (simulated,
  and labelled so), and :func:`calibrate` sets the linkage threshold from them, with its
  false-positive and false-negative rates and their confidence intervals;
* :class:`gcms.profiling.store.ProfileStore` keeps profiles and links in the case store's
  database, searches them, clusters linked seizures and exports the graph.

A link is evidence of a common origin, not proof of it.
"""

from __future__ import annotations

from gcms.profiling.measure import Profile, compare, measure_profile, normalise, scores
from gcms.profiling.method import (
    ProfileSettings,
    ProfilingMethod,
    Target,
    find_profiling_method,
    load_profiling_method,
    shipped_methods,
)

__all__ = [
    "Profile",
    "ProfileSettings",
    "ProfilingMethod",
    "Target",
    "compare",
    "find_profiling_method",
    "load_profiling_method",
    "measure_profile",
    "normalise",
    "scores",
    "shipped_methods",
]
