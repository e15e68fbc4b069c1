"""Human handoff: the escalation queue, routing to agents and teams, assignment and SLA timers."""
