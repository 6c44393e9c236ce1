"""Projects: visibility and CRUD (manage.py), the per-request cache, variables and secrets, the first-start demo."""
