"""The administration part of the API client: who am I, my teams, deleting a project, people and their tokens
(operators). A created token's value is in the answer only; the caller shows it once and keeps it nowhere."""

from __future__ import annotations

from typing import Any
from urllib.parse import quote


class AdminApi:
    async def request(  # RunboardClient's
        self, method: str, path: str, *, params: dict | None = None, json_body: Any = None, headers: Any = None
    ) -> Any:
        raise NotImplementedError

    async def me(self) -> dict:
        """{user_id, name, role, team_ids}: who the token belongs to."""
        return (await self.request('GET', '/me')).data

    async def teams(self) -> list[dict]:
        """The caller's teams: [{id, name}]."""
        return (await self.request('GET', '/teams')).data

    async def delete_project(self, project_id: str) -> None:
        """Operators; 409 project_busy (with blocking_runs) while runs are active."""
        await self.request('DELETE', f'/projects/{quote(project_id, safe="")}')

    async def list_people(self) -> list[dict]:
        """Operators: the people in their teams with their tokens (never the secrets)."""
        return (await self.request('GET', '/users')).data

    async def add_person(self, *, name: str, role: str, team_id: str | None, token_name: str = 'default') -> dict:
        """Operators: {person, token}; token['token'] is the new person's first token, in this answer only."""
        body: dict[str, Any] = {'name': name, 'role': role, 'token_name': token_name}
        if team_id:
            body['team_id'] = team_id
        return (await self.request('POST', '/users', json_body=body)).data

    async def change_role(self, user_id: str, role: str) -> dict:
        """Operators: the person (as list_people answers them) with their new role, from their next request on."""
        return (await self.request('PATCH', f'/users/{quote(user_id, safe="")}', json_body={'role': role})).data

    async def removal_preview(self, user_id: str) -> dict:
        """Operators: what removing the person from their teams would do (nothing changes): teams, tokens_revoked,
        schedules_paused, push_rules_as_them; or the refusal it would meet."""
        return (await self.request('GET', f'/users/{quote(user_id, safe="")}/removal')).data

    async def remove_person(self, user_id: str) -> dict:
        """Operators: remove the person from every team of theirs; the answer says what that did."""
        return (await self.request('DELETE', f'/users/{quote(user_id, safe="")}')).data

    async def create_token(self, *, name: str, user_id: str | None = None) -> dict:
        """A new token for the caller, or (operators) for a person; answer['token'] is its value, in this answer
        only."""
        body = {'name': name} if user_id is None else {'user_id': user_id, 'name': name}
        return (await self.request('POST', '/tokens', json_body=body)).data
