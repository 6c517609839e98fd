"""Transport contract suite: one set of behaviours, every transport behind the seam."""
