"""Transports behind one seam (see base.py)."""
