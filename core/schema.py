"""The whole schema: imports every domain package's ``models`` module and runs migrations."""

from __future__ import annotations

import importlib
import importlib.util
from pathlib import Path

from alembic import command
from alembic.config import Config
from sqlalchemy import MetaData

from core.db import Base

DOMAIN_PACKAGES = (
    "core",
    "channels",
    "conversations",
    "knowledge",
    "agent",
    "handoff",
    "contacts",
    "intelligence",
    "campaigns",
    "eval",
    "workers",
)


def load_models() -> MetaData:
    """Import every ``<package>.models`` so ``Base.metadata`` holds all tables."""
    for package in DOMAIN_PACKAGES:
        name = f"{package}.models"
        if importlib.util.find_spec(package) and importlib.util.find_spec(name):
            importlib.import_module(name)
    return Base.metadata


def alembic_config(database_url: str) -> Config:
    config = Config()
    config.set_main_option("script_location", str(Path(__file__).parent / "migrations"))
    config.set_main_option("sqlalchemy.url", database_url.replace("%", "%%"))
    return config


def migrate(database_url: str, revision: str = "head") -> None:
    """Bring the database to ``revision`` (``head`` by default)."""
    command.upgrade(alembic_config(database_url), revision)
