"""The data model: the shared vocabulary, the SQLModel tables, and the API schemas built on them.

Its names are read from the submodules when first asked for (PEP 562), so a process that needs only the vocabulary
(the CLI: statuses, kinds) does not load SQLAlchemy, SQLModel and every table (half a second of the CLI's start)."""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from app.models.batches import *  # noqa: F403
    from app.models.notifications import *  # noqa: F403
    from app.models.schedules import *  # noqa: F403
    from app.models.schemas import *  # noqa: F403
    from app.models.tables import *  # noqa: F403
    from app.models.vocabulary import *  # noqa: F403

# where a name is looked for, the cheapest first (the vocabulary needs no SQLAlchemy)
SUBMODULES = ('vocabulary', 'tables', 'schemas', 'schedules', 'notifications', 'batches')


def __getattr__(name: str) -> Any:
    for submodule in SUBMODULES:
        module = importlib.import_module(f'{__name__}.{submodule}')
        if name in getattr(module, '__all__', ()) or (not hasattr(module, '__all__') and hasattr(module, name)):
            value = getattr(module, name)
            globals()[name] = value
            return value
    raise AttributeError(f'module {__name__!r} has no attribute {name!r}')


def load_all() -> None:
    """Every table registered on SQLModel.metadata (what Alembic compares the database with)."""
    for submodule in SUBMODULES:
        importlib.import_module(f'{__name__}.{submodule}')
