"""laisctl entry point: commands parse arguments, call the agent, print.

Start-up stays light: click plus libdbus, imported only when a command runs.
Exit codes are those of ``lais_agent.errors`` (documented in docs/laisctl.md).
"""

from __future__ import annotations

import sys
from collections.abc import Callable
from contextlib import AbstractContextManager
from typing import TYPE_CHECKING, Any, TypeVar

import click

from lais_agent import __version__
from lais_agent.errors import LaisError

if TYPE_CHECKING:
    from lais_agent.cli.client import AgentClient

F = TypeVar("F", bound=Callable[..., Any])


def _fail(error: LaisError) -> None:
    click.echo(f"laisctl: {error.message}", err=True)
    if error.hint:
        click.echo(f"  hint: {error.hint}", err=True)
    sys.exit(error.exit_code)


def _client(ctx: click.Context, *, may_ask: bool = False) -> AgentClient:
    """A client; ``may_ask`` for calls that may need a password (mutating ones)."""
    from lais_agent.cli.client import AgentClient  # noqa: PLC0415 - keep --help fast

    obj: dict[str, Any] = ctx.ensure_object(dict)
    return AgentClient(obj.get("bus"), interactive=may_ask and obj.get("interactive", False))


def _may_ask(ctx: click.Context) -> AbstractContextManager[bool]:
    """A polkit text agent while a mutating call runs (only on a terminal)."""
    from lais_agent.cli.ttyagent import tty_agent  # noqa: PLC0415

    obj: dict[str, Any] = ctx.ensure_object(dict)
    return tty_agent(enabled=bool(obj.get("interactive")))


json_option = click.option("--json", "as_json", is_flag=True, help="Print stable JSON.")


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(
    __version__, "--version", "-V", prog_name="laisctl", message="%(prog)s %(version)s"
)
@click.option(
    "--bus",
    metavar="ADDRESS",
    envvar="LAIS_BUS_ADDRESS",
    help="D-Bus address of the agent's bus (default: the system bus).",
)
@click.option(
    "--no-ask-password",
    is_flag=True,
    help="Never ask for a password; fail when authentication would be needed.",
)
@click.pass_context
def cli(ctx: click.Context, bus: str | None, no_ask_password: bool) -> None:  # noqa: FBT001
    """Manage the LocalAIStack agent on this machine."""
    ctx.ensure_object(dict)
    ctx.obj["bus"] = bus
    ctx.obj["interactive"] = not no_ask_password and sys.stdin.isatty()


@cli.command()
@json_option
@click.pass_context
def status(ctx: click.Context, as_json: bool) -> None:  # noqa: FBT001
    """Show the agent's version, uptime and a hardware summary."""
    from lais_agent.cli import output  # noqa: PLC0415

    data = _client(ctx).manager("GetStatus")
    click.echo(output.to_json(data) if as_json else output.format_status(data))


@cli.command()
@json_option
@click.option("--refresh", is_flag=True, help="Probe the hardware again first.")
@click.pass_context
def hardware(ctx: click.Context, as_json: bool, refresh: bool) -> None:  # noqa: FBT001
    """Show the detected hardware profile (CPU, memory, storage, GPUs, OS)."""
    from lais_agent.cli import output  # noqa: PLC0415

    client = _client(ctx)
    if refresh:
        client.manager("RefreshHardware")
    data = client.manager("GetHardware")
    click.echo(output.to_json(data) if as_json else output.format_hardware(data))


@cli.command()
@json_option
@click.option("--explain", is_flag=True, help="Say why: each tier's checks and each limit's rule.")
@click.pass_context
def tier(ctx: click.Context, as_json: bool, explain: bool) -> None:  # noqa: FBT001
    """Show this machine's capability tier and what it may run."""
    from lais_agent.cli import output  # noqa: PLC0415

    data = _client(ctx).manager("GetTier")
    click.echo(output.to_json(data) if as_json else output.format_tier(data, explain=explain))


@cli.group()
def policy() -> None:
    """Show the capability policy; override it, revert overrides, see their history."""


@policy.command("show")
@json_option
@click.pass_context
def policy_show(ctx: click.Context, as_json: bool) -> None:  # noqa: FBT001
    """The tier, limits and why, with the overrides in force."""
    from lais_agent.cli import output  # noqa: PLC0415

    client = _client(ctx)
    tier_data = client.manager("GetTier")
    history = client.manager("GetPolicyOverrides") or []
    active = [o for o in history if "reverted_at" not in o]
    if as_json:
        click.echo(output.to_json({"capability": tier_data, "overrides": active}))
        return
    click.echo(output.format_tier(tier_data, explain=True))
    click.echo("")
    click.echo(output.format_overrides(active, title="Overrides in force"))


_LIMIT_OPTIONS = (
    ("max_model_params_b", float, "largest model, billions of parameters"),
    ("max_model_quantization_bits", int, "bits per weight that size assumes"),
    ("max_tensor_parallel", int, "GPUs one model may span"),
    ("max_concurrent_models", int, "models loaded at once"),
    ("vram_utilization_max", float, "fraction of VRAM, 0-1"),
    ("ram_utilization_max", float, "fraction of RAM, 0-1"),
)


def _limit_options(fn: F) -> F:
    for name, kind, text in reversed(_LIMIT_OPTIONS):
        flag = "--" + name.replace("_", "-")
        fn = click.option(flag, name, type=kind, default=None, help=text)(fn)
    return fn


@policy.command("override")
@_limit_options
@click.option("--allow-runtime", "allow", multiple=True, help="allow this runtime (repeatable)")
@click.option("--deny-runtime", "deny", multiple=True, help="deny this runtime (repeatable)")
@click.option("--reason", required=True, help="why; recorded with your name and the time")
@click.pass_context
def policy_override(
    ctx: click.Context,
    /,
    allow: tuple[str, ...],
    deny: tuple[str, ...],
    reason: str,
    **limits: float | None,
) -> None:
    """Record an override of the evaluated limits (reversible; shipped files stay as they are)."""
    given = {k: float(v) for k, v in limits.items() if v is not None}
    with _may_ask(ctx):
        override_id = _client(ctx, may_ask=True).manager(
            "SetPolicyOverride", "a{sv}asass", given, list(allow), list(deny), reason
        )
    click.echo(f"override {override_id} recorded; `laisctl policy revert {override_id}` undoes it")


@policy.command("revert")
@click.argument("override_id")
@click.option("--reason", required=True, help="why; recorded with your name and the time")
@click.pass_context
def policy_revert(ctx: click.Context, override_id: str, reason: str) -> None:
    """Revert an override (it stays in the history)."""
    with _may_ask(ctx):
        _client(ctx, may_ask=True).manager("RevertPolicyOverride", "ss", override_id, reason)
    click.echo(f"override {override_id} reverted")


@policy.command("history")
@json_option
@click.pass_context
def policy_history(ctx: click.Context, as_json: bool) -> None:  # noqa: FBT001
    """Every override ever recorded: who, when, why, and who reverted it."""
    from lais_agent.cli import output  # noqa: PLC0415

    history = _client(ctx).manager("GetPolicyOverrides") or []
    click.echo(output.to_json(history) if as_json else output.format_overrides(history))


@cli.group()
def module() -> None:
    """Modules in the catalog: what exists and what this machine can run."""


CATEGORIES = ("language", "runtime", "framework", "service", "application", "tool")


@module.command("list")
@json_option
@click.option("--installable", is_flag=True, help="Only modules this machine can install.")
@click.option("--category", type=click.Choice(CATEGORIES), help="Only this category.")
@click.pass_context
def module_list(
    ctx: click.Context,
    as_json: bool,  # noqa: FBT001 - click passes flags by keyword
    installable: bool,  # noqa: FBT001
    category: str | None,
) -> None:
    """List modules; with --installable, those whose needs this machine meets."""
    from lais_agent.cli import output  # noqa: PLC0415

    modules = _client(ctx).manager("ListModules") or []
    shown = [
        m
        for m in modules
        if (not installable or m.get("installable")) and (not category or m["category"] == category)
    ]
    click.echo(output.to_json(shown) if as_json else output.format_modules(shown))


@module.command("info")
@click.argument("name")
@json_option
@click.pass_context
def module_info(ctx: click.Context, name: str, as_json: bool) -> None:  # noqa: FBT001
    """One module: what it is, its versions, and whether each can run here."""
    from lais_agent import names  # noqa: PLC0415
    from lais_agent.cli import output  # noqa: PLC0415

    client = _client(ctx)
    path = client.manager("GetModule", "s", name)
    props = client.call(
        "org.freedesktop.DBus.Properties", "GetAll", "s", names.MODULE_IFACE, path=path
    )
    props["ObjectPath"] = path
    click.echo(output.to_json(props) if as_json else output.format_module(props))


MODES = ("native", "apt", "container", "venv")


@module.command("plan")
@click.argument("modules", nargs=-1, required=True)
@click.option("--mode", type=click.Choice(MODES), help="Run the named modules in this mode.")
@json_option
@click.pass_context
def module_plan(
    ctx: click.Context,
    modules: tuple[str, ...],
    mode: str | None,
    as_json: bool,  # noqa: FBT001
) -> None:
    """What installing MODULES (e.g. vllm, 'aider>=0.80') would take here; changes nothing."""
    from lais_agent.cli import output  # noqa: PLC0415

    options = {"mode": mode} if mode else {}
    plan = _client(ctx).manager("PlanInstall", "asa{sv}", list(modules), options)
    click.echo(output.to_json(plan) if as_json else output.format_plan(plan))


@cli.group()
def catalog() -> None:
    """Work with module manifests."""


@catalog.command("validate")
@click.argument("paths", nargs=-1, required=True, type=click.Path(dir_okay=False))
@click.pass_context
def catalog_validate(ctx: click.Context, paths: tuple[str, ...]) -> None:
    """Check module manifest files against the schema the agent uses."""
    from lais_agent.errors import EXIT_INVALID_CONFIG, InvalidArgs  # noqa: PLC0415

    client = _client(ctx)
    failed = False
    for path in paths:
        try:
            with open(path, encoding="utf-8") as handle:
                text = handle.read()
        except OSError as exc:
            raise InvalidArgs(f"cannot read {path}: {exc.strerror}") from None
        result = client.manager("ValidateManifest", "ss", text, path)
        if not result.get("valid"):
            failed = True
            click.echo(f"{result.get('error')}", err=True)
            continue
        versions = ", ".join(result.get("versions", []))
        signed = f", signed by {result['signed_by']}" if result.get("signed_by") else ""
        click.echo(f"{path}: ok ({result.get('name')} {versions}{signed})")
        for unknown in result.get("unknowns", []):
            click.echo(f"{path}: note: {unknown} is 'unknown' (not knowable offline)")
    if failed:
        sys.exit(EXIT_INVALID_CONFIG)


@cli.command()
@click.pass_context
def reload(ctx: click.Context) -> None:
    """Make the agent re-read its configuration and re-probe the machine."""
    with _may_ask(ctx):
        _client(ctx, may_ask=True).manager("Reload")
    click.echo("lais-agent reloaded")


def main() -> None:
    try:
        cli.main(prog_name="laisctl", standalone_mode=True)
    except LaisError as error:
        _fail(error)
    except KeyboardInterrupt:
        sys.exit(130)
