"""AFK endpoints (filled in by the auto-loop issue)."""
from fastapi import APIRouter

router = APIRouter(tags=['afk'])
