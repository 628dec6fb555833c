"""Quantitation against the sequence's own reference standards.

* :mod:`~gcms.quantitation.method` — the method file (TOML): analytes, ions, RT windows,
  internal standards, model, weighting, acceptance limits (:func:`load_method`);
* :mod:`~gcms.quantitation.integration` — the documented integration rule
  (:func:`integrate_peak`), limits kept for review;
* :mod:`~gcms.quantitation.calibration` — weighted least squares, inverse prediction with
  its uncertainty, LOD/LOQ, calibrator acceptance (:class:`Calibration`, :class:`Fit`);
* :mod:`~gcms.quantitation.quantity` — :class:`Quantity` and the amount in the exhibit;
* :mod:`~gcms.quantitation.process` — a whole sequence (:func:`quantitate`), the call
  ``gcms quant`` and the batch make;
* :mod:`~gcms.quantitation.output` — the output folder (:func:`write_results`);
* :mod:`~gcms.quantitation.plot` — the calibration figure.
"""

from gcms.quantitation.calibration import (
    Calibration,
    CalibrationPoint,
    Fit,
    build_calibration,
    fit_curve,
    mandel_test,
)
from gcms.quantitation.integration import Integration, integrate_between, integrate_peak
from gcms.quantitation.method import (
    Acceptance,
    Analyte,
    IntegrationSettings,
    InternalStandard,
    QuantMethod,
    load_method,
    parse_method,
)
from gcms.quantitation.output import write_calibration_outputs, write_results
from gcms.quantitation.process import (
    Measurement,
    QuantitationResult,
    RunRecord,
    measure,
    quantitate,
)
from gcms.quantitation.quantity import Amount, CheckResult, QualifierCheck, Quantity

__all__ = [
    "Acceptance",
    "Amount",
    "Analyte",
    "Calibration",
    "CalibrationPoint",
    "CheckResult",
    "Fit",
    "Integration",
    "IntegrationSettings",
    "InternalStandard",
    "Measurement",
    "QualifierCheck",
    "QuantMethod",
    "Quantity",
    "QuantitationResult",
    "RunRecord",
    "build_calibration",
    "fit_curve",
    "integrate_between",
    "integrate_peak",
    "load_method",
    "mandel_test",
    "measure",
    "parse_method",
    "quantitate",
    "write_calibration_outputs",
    "write_results",
]
