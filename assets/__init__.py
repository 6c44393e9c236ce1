"""The browser's files (js, css). In the wheel this folder is the package `app.assets` (pyproject.toml maps it);
the server finds it through importlib.resources (app/package_files.py), never as a folder beside the code."""
