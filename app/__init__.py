"""Runboard: a local-first control room for pipeline and coding-agent runs."""
