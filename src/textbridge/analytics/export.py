"""A report as CSV: its rows under a header of its columns, as the JSON's `rows` give them."""

from __future__ import annotations

import csv
import io
from typing import Any

from textbridge.analytics.query import Report

# A cell a spreadsheet would run as a formula (OWASP "CSV injection") is quoted with a '.
_FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")


def cell(value: Any) -> Any:
    if value is None:
        return ""
    if isinstance(value, str) and value.startswith(_FORMULA_STARTS):
        return "'" + value
    return value


def as_csv(report: Report) -> str:
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\r\n")
    writer.writerow(report.columns)
    for row in report.rows:
        writer.writerow([cell(row[column]) for column in report.columns])
    return out.getvalue()
