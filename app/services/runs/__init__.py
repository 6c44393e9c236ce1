"""Runs: admission (the policy, its steps in order, in admission.py; the database's answers in writer.py; the entry
points in admit.py), reading and listing runs, the timeline, stages, matrix batches, bulk actions, rate limits."""
