"""Helpers shared by test modules and conftest files, by topic. Fixtures stay in the conftest files;
no test module imports a conftest module."""
