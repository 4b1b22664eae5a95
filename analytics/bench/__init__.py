"""The benchmark harness (`make bench`) and one module per measured case. Imports nothing from tests/."""
