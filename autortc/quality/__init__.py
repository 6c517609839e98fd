"""Listening-quality figures of what a caller hears."""
