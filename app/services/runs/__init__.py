"""Runs: admission (the pure policy in admission.py, its write in admission_write.py, the entry points in admit.py),
reading and listing runs, the timeline, stages, matrix batches, bulk actions, rate limits."""
