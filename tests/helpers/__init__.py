"""Helpers shared by test modules and conftest files (fixtures stay in the conftest files).

Asserts in these modules are rewritten by pytest like those in test modules and conftest files."""

import pytest

pytest.register_assert_rewrite('tests.helpers')
