"""Generate: one signed fill-in workbook per division (`forms`), whose cells check
themselves as the division types (`selfcheck`)."""
