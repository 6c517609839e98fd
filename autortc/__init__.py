"""AutoRTC: an end-to-end test harness for real-time voice agents.

Data flows one way: case -> input wav -> user bot -> room -> agent -> room ->
probe -> recordings + event log -> slices -> metrics -> gates -> report.
"""

__version__ = "0.1.0"
