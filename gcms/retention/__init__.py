"""Retention indices: find a marker ladder, calibrate RT -> RI, apply it to a sequence.

The pieces, in the order a lab uses them::

    ladder = find_ladder(run_of_alkane_standard)          # C8-C40, named, with confidence
    calibration = ladder.calibration()                    # Van den Dool & Kratz
    indices = calibration.apply(component_rts)  # any other run of the sequence
    indices.extrapolated                                  # every RI outside the ladder flagged

``RetentionCalibration.read_amdis_cal`` / ``write_amdis_cal`` exchange calibrations with
AMDIS; ``to_dict`` / ``from_dict`` keep them in JSON. :mod:`gcms.retention.simulate`
builds alkane-ladder runs with known answers.
"""

from gcms.retention.calibration import (
    RetentionCalibration,
    RetentionIndices,
    RIMethod,
    estimate_dead_time,
    kovats,
    van_den_dool_kratz,
)
from gcms.retention.ladder import DroppedPeak, Ladder, LadderNaming, LadderSettings, find_ladder
from gcms.retention.series import (
    FAME_METHYL_ESTERS,
    N_ALKANES,
    SERIES,
    HomologousSeries,
    series_named,
)

__all__ = [
    "FAME_METHYL_ESTERS",
    "N_ALKANES",
    "SERIES",
    "DroppedPeak",
    "HomologousSeries",
    "Ladder",
    "LadderNaming",
    "LadderSettings",
    "RIMethod",
    "RetentionCalibration",
    "RetentionIndices",
    "estimate_dead_time",
    "find_ladder",
    "kovats",
    "series_named",
    "van_den_dool_kratz",
]
