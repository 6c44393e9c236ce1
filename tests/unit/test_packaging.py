"""What the wheel carries besides the code, checked on pyproject.toml and the source tree (the wheel itself is
built, installed and started by tests/e2e/test_installed_wheel.py): pyproject lists the packages (its mapping of
`assets/` to `app.assets` turns setuptools' discovery off), so a new folder of `app/` missing there would be
missing from every installed Runboard."""

from __future__ import annotations

import fnmatch
import tomllib

from app import package_files
from tests.helpers.servers import ROOT

SETUPTOOLS = tomllib.loads((ROOT / 'pyproject.toml').read_text())['tool']['setuptools']


def test_every_folder_of_app_with_python_files_is_a_listed_package() -> None:
    folders = {
        '.'.join(path.parent.relative_to(ROOT).parts)
        for path in (ROOT / 'app').rglob('*.py')
        if '__pycache__' not in path.parts
    }
    assert folders - set(SETUPTOOLS['packages']) == set()


def test_the_browser_files_at_the_top_are_the_package_app_assets() -> None:
    assert SETUPTOOLS['package-dir'] == {'app.assets': 'assets'}
    patterns = SETUPTOOLS['package-data']['app.assets']
    shipped = [path.name for path in (ROOT / 'assets').iterdir() if path.suffix in ('.js', '.css')]
    assert shipped and all(any(fnmatch.fnmatch(name, pattern) for pattern in patterns) for name in shipped)


def test_alembic_template_and_demo_are_package_data() -> None:
    data = SETUPTOOLS['package-data']
    assert 'script.py.mako' in data['app.migrations'] and 'pipeline.py' in data['app.demo']


def test_the_code_finds_its_files_through_the_installed_package() -> None:
    # this checkout's editable install: importlib.resources answers with the source folders
    assert package_files.assets_dir() == ROOT / 'assets'
    assert package_files.asset('logview.js').is_file()
    assert (package_files.migrations_dir() / 'script.py.mako').is_file()
    assert (package_files.migrations_dir() / 'env.py').is_file()
    assert package_files.demo_pipeline().is_file()
