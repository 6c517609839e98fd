"""Report rendering: pure functions from a suite outcome to text, plus one writer."""
