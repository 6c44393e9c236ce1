"""Projects: visibility and CRUD (manage.py), the per-request cache, variables and secrets, README badges, the
first-start demo."""
