"""Fixtures shared with other test packages."""

from tests.agent.conftest import agent as agent  # the demo-FAQ runtime the inbound job runs on
from tests.agent.conftest import agent_any_db as agent_any_db  # the same on SQLite and PostgreSQL
