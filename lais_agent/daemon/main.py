"""lais-agent: the composition root. The one place adapters are wired together."""

from __future__ import annotations

import argparse
import asyncio
import functools
import logging
import os
import signal
import sys
from collections.abc import Sequence
from pathlib import Path

from dbus_fast import BusType, RequestNameReply
from dbus_fast.aio import MessageBus
from dbus_fast.constants import NameFlag

from lais_agent import __version__, names
from lais_agent.bus.actions import OBJECT_MANAGER_IFACE
from lais_agent.bus.gate import AuthorizationGate
from lais_agent.bus.manager import ManagerInterface
from lais_agent.bus.module import ModuleObjects
from lais_agent.bus.polkit import Authority
from lais_agent.control.capability import CapabilityService
from lais_agent.control.hardware import HardwareService
from lais_agent.control.modules import CatalogPaths, ModuleService
from lais_agent.control.overrides import OverrideStore
from lais_agent.daemon.logsetup import setup_logging
from lais_agent.daemon.notify import Notifier
from lais_agent.daemon.udev import UdevWatcher
from lais_agent.hardware import containers
from lais_agent.hardware.detect import ProbeSources, detect
from lais_agent.hardware.nvidia import NvmlFactory, load_pynvml
from lais_agent.hardware.nvml_replay import RecordedNvml

logger = logging.getLogger("lais_agent.daemon")

FIRST_PROBE_WAIT_S = 2.0


def parse_args(argv: Sequence[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        prog="lais-agent", description="LocalAIStack host agent (D-Bus system service)."
    )
    parser.add_argument("--version", action="version", version=f"lais-agent {__version__}")
    parser.add_argument(
        "--bus",
        metavar="ADDRESS",
        help="D-Bus address to serve on (default: $DBUS_SYSTEM_BUS_ADDRESS, else the system bus)",
    )
    parser.add_argument(
        "--models-dir", default=names.MODELS_DIR, help="model store directory (for storage data)"
    )
    parser.add_argument(
        "--hardware-root",
        type=Path,
        metavar="DIR",
        help="probe a recorded machine (sys/, proc/, etc/, optional nvml.json) instead of /",
    )
    parser.add_argument(
        "--state-dir",
        type=Path,
        default=Path(names.STATE_DIR),
        help="the agent's state (default: %(default)s)",
    )
    parser.add_argument(
        "--policy-dir",
        type=Path,
        default=Path(names.SHIPPED_POLICIES_DIR),
        help="shipped capability policies (default: %(default)s)",
    )
    parser.add_argument(
        "--admin-policy-dir",
        type=Path,
        default=Path(names.ADMIN_POLICIES_DIR),
        help="administrator's policies, replacing shipped files of the same name",
    )
    parser.add_argument(
        "--catalog-dir",
        type=Path,
        default=Path(names.SHIPPED_CATALOG_DIR),
        help="shipped module manifests (default: %(default)s)",
    )
    parser.add_argument(
        "--admin-catalog-dir",
        type=Path,
        default=Path(names.ADMIN_CATALOG_DIR),
        help="administrator's manifests, replacing shipped modules of the same name",
    )
    parser.add_argument(
        "--keys-dir",
        type=Path,
        default=Path(names.SHIPPED_KEYS_DIR),
        help="shipped public keys trusted to sign manifests (default: %(default)s)",
    )
    parser.add_argument(
        "--admin-keys-dir",
        type=Path,
        default=Path(names.ADMIN_KEYS_DIR),
        help="administrator's trusted keys, <key-id>.pub (default: %(default)s)",
    )
    parser.add_argument(
        "--log-level", default="info", choices=["debug", "info", "warning", "error"]
    )
    parser.add_argument(
        "--no-udev", action="store_true", help="do not watch udev for hardware changes"
    )
    return parser.parse_args(argv)


def probe_sources(args: argparse.Namespace) -> ProbeSources:
    if args.hardware_root is None:
        return ProbeSources(store_path=args.models_dir)
    root: Path = args.hardware_root
    recording = root / "nvml.json"
    factory: NvmlFactory = load_pynvml
    if recording.is_file():
        factory = functools.partial(RecordedNvml.from_file, recording)
    return ProbeSources(
        root=root, store_path=args.models_dir, store_stat_path=root, nvml_factory=factory
    )


async def _watchdog(notifier: Notifier, interval: float) -> None:
    while True:
        notifier.send(WATCHDOG="1")
        await asyncio.sleep(interval)


async def serve(args: argparse.Namespace) -> int:
    notifier = Notifier()
    # Signal handlers first: a SIGTERM right after the name appears must still be clean.
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for signum in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(signum, stop.set)
    address = args.bus or None
    try:
        bus = await MessageBus(bus_address=address, bus_type=BusType.SYSTEM).connect()
    except Exception as exc:  # noqa: BLE001 - any connect failure ends the process
        where = address or os.environ.get("DBUS_SYSTEM_BUS_ADDRESS") or "the system bus"
        logger.error("cannot connect to %s: %s", where, exc)
        return 1

    sources = probe_sources(args)
    hardware = HardwareService(
        functools.partial(detect, sources), stamp=functools.partial(containers.stamp, sources.root)
    )
    authority = Authority(bus)
    gate = AuthorizationGate(bus, authority)
    gate.install()
    overrides = OverrideStore(args.state_dir / "policy-overrides.json")
    capability = CapabilityService(args.policy_dir, args.admin_policy_dir, overrides)
    modules = ModuleService(
        CatalogPaths(
            shipped=args.catalog_dir,
            admin=args.admin_catalog_dir,
            keys=(args.keys_dir, args.admin_keys_dir),
            cache=args.state_dir / "cache" / "catalog.json",
        )
    )
    module_objects = ModuleObjects(bus, hardware, capability, modules)
    gate.prepare_before(OBJECT_MANAGER_IFACE, "GetManagedObjects", module_objects)
    bus.export(names.ROOT_PATH, ManagerInterface(hardware, capability, modules, module_objects))

    # Probe before taking the name, so the first call (usually the one that activated
    # us) already has the hardware; a slow probe (NVML) does not hold the name back long.
    first_probe = loop.create_task(hardware.refresh())
    await asyncio.wait({first_probe}, timeout=FIRST_PROBE_WAIT_S)

    reply = await bus.request_name(names.BUS_NAME, NameFlag.DO_NOT_QUEUE)
    if reply not in (RequestNameReply.PRIMARY_OWNER, RequestNameReply.ALREADY_OWNER):
        logger.error(
            "%s is already owned by another process; is lais-agent running?", names.BUS_NAME
        )
        await asyncio.gather(first_probe, return_exceptions=True)
        bus.disconnect()
        return 1
    logger.info(
        "lais-agent %s owns %s",
        __version__,
        names.BUS_NAME,
        extra={"LAIS_BUS_NAME": names.BUS_NAME},
    )
    notifier.send(READY="1", STATUS="serving on the bus; probing hardware")

    async def report_probe() -> object:
        profile = await first_probe
        notifier.send(STATUS=f"ready; {len(profile.gpus)} GPU(s) detected")
        return None

    tasks: set[asyncio.Task[object]] = {loop.create_task(report_probe())}
    if notifier.watchdog_interval:
        tasks.add(loop.create_task(_watchdog(notifier, notifier.watchdog_interval)))
    udev = UdevWatcher(hardware.refresh)
    if not args.no_udev and args.hardware_root is None:
        udev.start()
    disconnected = loop.create_task(bus.wait_for_disconnect())  # type: ignore[no-untyped-call]
    stopping = loop.create_task(stop.wait())
    await asyncio.wait({disconnected, stopping}, return_when=asyncio.FIRST_COMPLETED)

    exit_code = 0
    if disconnected.done():
        logger.error("lost the connection to the bus; exiting")
        exit_code = 1
    else:
        notifier.send(STOPPING="1", STATUS="shutting down")
        logger.info("stopping on signal")
    for task in (stopping, disconnected, *tasks):
        task.cancel()
    await asyncio.gather(stopping, disconnected, *tasks, return_exceptions=True)
    await udev.stop()
    await module_objects.close()
    await gate.drain()
    await hardware.close()
    if bus.connected:
        try:
            await bus.release_name(names.BUS_NAME)
        except Exception:
            logger.debug("release_name failed", exc_info=True)
        bus.disconnect()
    return exit_code


def main(argv: Sequence[str] | None = None) -> None:
    args = parse_args(argv)
    setup_logging(getattr(logging, args.log_level.upper()))
    sys.exit(asyncio.run(serve(args)))
