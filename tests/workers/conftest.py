"""Fixtures shared with other test packages."""

from tests.agent.conftest import agent as agent  # the demo-FAQ runtime the inbound job runs on
