"""Load tests of the served entrypoints: `encore bench load` (agent/loadtest/run.py)."""
