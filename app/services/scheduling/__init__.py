"""Time-driven work: cron schedules and their sweep, delayed runs, queued-run TTL, the APScheduler jobs every server
runs."""
