"""Masks: generation in the paper's coverage buckets, editing (brush, grow, feather), reading
mask files."""
