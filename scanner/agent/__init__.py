"""The scheduled agent: scans on schedules, per-department report folders, retention, monitoring.

The agent is a thin loop over the library behind ``civiscan scan``
(:mod:`scanner.scan`): every run is prepared, started and executed exactly as
the command line does it. docs/agent.md is the user's reference.
"""
