"""The DuckDB store itself: opening and migrating the file, transactions, the audit log and backups.

The bottom layer with `access`: it knows nothing of features, so every feature writes through the same doors.
"""
