"""Repositories: mirrors in the data dir, git plumbing and credentials, repository URLs, the forge clients (GitHub,
Gitea/Forgejo)."""
