"""Who is who: users, teams, API tokens, people in an operator's teams, form tokens, the audit log."""
