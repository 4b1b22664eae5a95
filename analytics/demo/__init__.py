"""The deterministic synthetic demo store and the sampling tables it draws from.

Nothing outside demo/ and bench/ imports it: real records are never classified with demo tables.
"""
