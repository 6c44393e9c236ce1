"""The in-process executor (RunEngine) and its parts."""

from app.services.engine.engine import RunEngine
from app.services.engine.live import LaunchFailed, LiveRun, new_instance_id

__all__ = ['LaunchFailed', 'LiveRun', 'RunEngine', 'new_instance_id']
