"""NiceGUI pages built from the stores; no database, no services."""

from nicegui import app as web_app

# Quasar's brand colours for a light page, each with at least 4.5:1 against white both as text and as a fill under
# white text (NiceGUI's defaults have 1.7:1 to 3.1:1). Dark pages get lighter tints in assets/runboard.css.
BRAND_COLOURS = {
    'primary': '#1565c0',
    'secondary': '#00796b',
    'positive': '#2e7d32',
    'negative': '#c10015',
    'info': '#0277bd',
    'warning': '#f2c037',  # a fill with dark text; as text on a light page it is a dark amber (runboard.css)
}


def register() -> None:
    from app.pages import (  # noqa: PLC0415, F401  (the decorators register the routes)
        audit_page,
        batch_page,
        dashboard,
        not_found,
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

    web_app.colors(**BRAND_COLOURS)
    # Quasar's loading bar (shown while a request runs) is a progressbar, which needs a name (WCAG 4.1.2); what its
    # config holds besides its own options lands on its element
    web_app.config.quasar_config.setdefault('loadingBar', {})['aria-label'] = 'Loading'
    plain.register()
    not_found.register()
