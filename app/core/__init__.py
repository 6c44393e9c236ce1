"""What every layer shares and nothing below it: domain errors (Refusal, problems), ids, the start-up step runner,
and the pure helpers both the UI side and the server side read (workflow commands, request origins)."""
