"""Synthetic swsusp sample generator (ground truth for the tests)."""
