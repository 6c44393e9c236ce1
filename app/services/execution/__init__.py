"""The in-process executor (RunEngine) and its parts."""

from app.services.execution.engine import RunEngine
from app.services.execution.live import LaunchFailed, LiveRun, new_instance_id

__all__ = ['LaunchFailed', 'LiveRun', 'RunEngine', 'new_instance_id']
