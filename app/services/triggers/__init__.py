"""Runs on push and on pull requests (issue 37): the rules (rules.py, pure), forge webhooks (hooks.py, pure:
signatures and payloads), admitting a pushed head exactly once (push.py) and commit statuses back to the forge
(statuses.py). docs/triggers.md, "On push and pull requests"."""
