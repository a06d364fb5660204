"""Accounts: users, roles, passwords (argon2), sessions, login throttling."""
