"""The AFK auto-loop: the sweep (loop.py), its pure rules (rules.py), issue claims, the issues it takes (sources,
local backlog), what people do to it (actions.py)."""
