"""NiceGUI pages built from the stores; no database, no services."""


def register() -> None:
    from app.pages import dashboard, plain, project_page, run_page, signin, workers_page  # noqa: F401  (the decorators register the routes)

    plain.register()
