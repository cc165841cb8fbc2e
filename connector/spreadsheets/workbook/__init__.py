"""Workbook export (openpyxl): sessions priced by plain Excel formulas that finance can audit.

The formulas cover a documented tariff subset (``connector.spreadsheets.workbook.subset``); the CI test recalculates
the workbook with LibreOffice and checks every formula cell against ``connector.rating.rate``.
"""

from connector.spreadsheets.workbook.subset import WorkbookError, WorkbookTariff, workbook_tariff
from connector.spreadsheets.workbook.writer import ExportResult, export_workbook

__all__ = ["ExportResult", "WorkbookError", "WorkbookTariff", "export_workbook", "workbook_tariff"]
