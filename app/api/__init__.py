"""HTTP <-> services: one router module per resource, the API's application (`application.py`) and the layers in
front of the API and the UI. This package's own import stays light: a UI-only process (`--server URL`) takes the UI's
layers from here and never loads the API or the services behind it."""

# An idle connection is closed by the client first: httpx (the CLI, the tests) drops one after 5 s, uvicorn's own
# default is also 5 s, and a request sent just as the server closes its side is lost ("connection reset by peer").
# 75 s also outlasts the 60 s idle timeout of the common load balancers in front of a team server.
KEEP_ALIVE_SECONDS = 75
