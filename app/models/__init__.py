"""The data model: the shared vocabulary, the SQLModel tables, and the API schemas built on them."""

from app.models.batches import *  # noqa: F403
from app.models.notifications import *  # noqa: F403
from app.models.schedules import *  # noqa: F403
from app.models.schemas import *  # noqa: F403
from app.models.tables import *  # noqa: F403
from app.models.vocabulary import *  # noqa: F403
