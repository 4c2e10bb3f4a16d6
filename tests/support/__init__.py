"""Helpers shared by the test packages that start real processes."""
