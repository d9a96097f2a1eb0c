"""Routing: which queue a job belongs to, and which printer prints it (late-bound)."""
