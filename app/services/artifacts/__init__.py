"""Artifacts and test reports (docs/artifacts.md).

A run gets `RUNBOARD_ARTIFACTS_DIR`, an empty directory inside its sandbox. When its command ends, whoever executed
it (the server's engine, or a `runboard worker`) walks that directory without following links, keeps each regular
file in the artifact store (fsspec: the data dir by default, any fsspec URL such as `s3://bucket/prefix` in team
mode) up to the run's size limit, refuses the rest visibly, and parses the JUnit XML among them (junitparser) into
test results and the Cobertura XML into its line coverage, all before the run's terminal status is written, so its
notifications carry the failing tests.

- `store.py`: the fsspec store (upload from an open file, streamed reads, deletes).
- `collect.py`: the walk, the pure keep/refuse plan (`plan`), the uploads and the rows.
- `junit.py`: JUnit XML -> test cases and totals.
- `coverage.py`: Cobertura XML -> line coverage (its root element only).
- `history.py`: pure `mark_failures` (new / still failing since run X / flaky on one commit / failing on the base
  branch too) and `fixed_tests`, the run compared with, and their reads.
- `reads.py`: what the API answers (a run's artifacts and tests, a project's flakiest tests and test chart).
- `retention.py`: expired artifacts leave the store and the table (test results stay).

How two executors or servers at once stay right: a run is executed by one claimant only (the claim is a
compare-and-set on its status), so one writer collects its files; rows are inserted ON CONFLICT DO NOTHING besides.
Retention on several servers deletes files first, then the rows it read; a file already gone is no error.
"""
