"""Notifications: a project's webhook rules, the outbox written with each change, the sender, payload formats,
signatures, the address policy."""
