"""Where runs execute: the in-process executor (engine.py's RunEngine) and the Celery worker (worker.py), and what
both share: claiming a queued run, its checkout, sandbox and process, output ingest, heartbeats, finishing and
recovery."""
