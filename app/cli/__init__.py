"""The `runboard` command line (typer), one module per command group, all on app/client/__init__.py.

main.py assembles the groups; context.py is what every command shares (server, token, output, errors);
policy.py holds the pure exit-code and retry decisions."""
