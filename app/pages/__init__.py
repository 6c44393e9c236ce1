"""NiceGUI pages built from the stores; no database, no services."""


def register() -> None:
    from app.pages import (  # noqa: F401  (the decorators register the routes)
        audit_page,
        batch_page,
        dashboard,
        notifications_page,
        plain,
        project_admin,  # before project_page: /projects/new is not a project id
        project_page,
        run_page,
        schedules_page,
        settings_page,
        signin,
        tokens_page,
        workers_page,
    )

    plain.register()
