"""GET /me: who the token belongs to (the UI's sign-in checks a token with it)."""

from __future__ import annotations

from fastapi import APIRouter
from pydantic import BaseModel

from app.api.deps import PrincipalDep
from app.api.schemas import problems

router = APIRouter(tags=['me'])


class MePublic(BaseModel):
    user_id: str
    name: str
    role: str
    team_ids: list[str]
    token_id: str | None = None  # the token this request came with (the UI marks it in the tokens list)
    is_admin: bool = False  # a deployment administrator (drains workers)


@router.get('/me', response_model=MePublic, responses=problems(401))
async def me(principal: PrincipalDep) -> MePublic:
    return MePublic(
        user_id=principal.user_id,
        name=principal.name,
        role=principal.role,
        team_ids=sorted(principal.team_ids),
        token_id=principal.token_id,
        is_admin=principal.is_admin,
    )
