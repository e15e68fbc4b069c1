"""Entry point of ``relais``; commands live in the sibling modules and are discovered.

A configuration problem prints one line naming the variable and exits with status 2.
"""

from __future__ import annotations

import importlib
import pkgutil
import sys

import typer

import cli
from core.settings import SettingsError

app = typer.Typer(help="Relais: self-hostable SMS engagement platform.", no_args_is_help=True, add_completion=False)


def _register_all() -> None:
    for info in sorted(pkgutil.iter_modules(cli.__path__), key=lambda i: i.name):
        if info.name == "main":
            continue
        module = importlib.import_module(f"cli.{info.name}")
        register = getattr(module, "register", None)
        if register is not None:
            register(app)


_register_all()


def main() -> None:
    try:
        app()
    except SettingsError as exc:
        print(f"relais: {exc}", file=sys.stderr)
        sys.exit(2)


if __name__ == "__main__":
    main()
