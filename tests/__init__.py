import pytest

# The shared helpers in tests/helpers assert like test modules and conftest files do, with pytest's
# explanations; registered here, before anything imports them.
pytest.register_assert_rewrite('tests.helpers')
