"""Spreadsheet-shaped rating: formula arguments, CSV batches and the auditable workbook, all on the rating core."""
