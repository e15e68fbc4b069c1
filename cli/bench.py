"""``relais bench``: run the benchmarks in ``bench/`` one after the other; each prints its figures."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import typer

from cli.console import console

REPO = Path(__file__).resolve().parents[1]
BENCHMARKS = (
    "campaign_e2e", "limiter", "inbound_e2e", "events", "agent", "knowledge", "campaigns", "console", "tokenize",
    "intelligence_scoring", "reports_apply", "contact_import", "import_preview",
)


def register(app: typer.Typer) -> None:
    app.command("bench", context_settings={"allow_extra_args": True, "ignore_unknown_options": True})(bench)


def bench(
    ctx: typer.Context,
    names: list[str] = typer.Argument(None, help=f"Which to run (default all): {', '.join(BENCHMARKS)}."),
) -> None:
    """Run benchmarks from a source checkout; extra options go to each benchmark (see bench/README.md)."""
    chosen = names or list(BENCHMARKS)
    unknown = sorted(set(chosen) - set(BENCHMARKS))
    if unknown:
        raise typer.BadParameter(f"unknown benchmark(s) {unknown}; choose from {', '.join(BENCHMARKS)}")
    if not (REPO / "bench").is_dir():
        raise typer.BadParameter("benchmarks run from a source checkout (bench/ is not installed)")
    failed = []
    for name in chosen:
        console.rule(f"bench/{name}.py")
        done = subprocess.run([sys.executable, "-m", f"bench.{name}", *ctx.args], cwd=REPO, check=False)
        if done.returncode:
            failed.append(name)
    if failed:
        console.print(f"[red]failed: {', '.join(failed)}[/]")
        raise typer.Exit(1)
