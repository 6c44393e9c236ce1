"""A Runboard world for AFK tests: services built on the test's backend but not started, so runs
stay queued until a test reaps them (deterministic), and the sweep is called directly."""

from __future__ import annotations

import pytest

from app.container import Services, build_services
from tests.helpers.afk import World, close_services
from tests.helpers.repos import make_repo


@pytest.fixture
def world_factory(settings_factory, tmp_path):  # noqa: ANN001, ANN201
    """world_factory(**settings) -> a World; call again for a second server on the same database."""
    made: list[Services] = []
    repo = make_repo(tmp_path / 'repo', {'main': {'run.sh': '#!/bin/sh\nexit 1\n'}})

    def make(**overrides) -> World:  # noqa: ANN003
        if made:  # a second server on the same database (settings_factory alone would give local mode a new file)
            overrides.setdefault('database_url', made[0].settings.effective_database_url)
        services = build_services(settings_factory(**overrides))
        made.append(services)
        principal = services.auth.authenticate(services.local_token)
        return World(services, principal, repo)

    yield make
    for services in made:
        close_services(services)


@pytest.fixture
def world(world_factory) -> World:  # noqa: ANN001
    return world_factory()
