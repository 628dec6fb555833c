"""Shared pieces of the command-line shell: error lines, JSON output, exit codes."""

from __future__ import annotations

import json
import math
import sys
from typing import Any

import click

#: Exit codes of every gcms command.
EXIT_OK = 0
EXIT_FINDINGS = 1  # a check ran and failed (QA, verification)
EXIT_INPUT = 2  # usage or input error


def error_line(message: str) -> None:
    """One line on stderr naming the input and the problem (no traceback)."""
    click.echo(f"gcms: error: {message}", err=True)


def _clean(value: Any) -> Any:
    if isinstance(value, float) and not math.isfinite(value):
        return None
    if isinstance(value, dict):
        return {k: _clean(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_clean(v) for v in value]
    return value


def emit_json(value: Any) -> None:
    """Print ``value`` as JSON on stdout (NaN and infinities as null)."""
    json.dump(_clean(value), sys.stdout, indent=2, default=str)
    sys.stdout.write("\n")
