"""The bus contract in one place: names, paths, interfaces and polkit action ids.

Everything is derived from one prefix so the contract cannot drift between the
agent, laisctl, the shipped D-Bus/polkit files and the tests.
"""

from __future__ import annotations

from typing import Final

PREFIX: Final = "org.localaistack"
BUS_NAME: Final = f"{PREFIX}.Agent1"
ROOT_PATH: Final = "/org/localaistack/Agent1"

MANAGER_IFACE: Final = f"{BUS_NAME}.Manager"
MODULE_IFACE: Final = f"{BUS_NAME}.Module"
MODEL_IFACE: Final = f"{BUS_NAME}.Model"
JOB_IFACE: Final = f"{BUS_NAME}.Job"

ERROR_PREFIX: Final = f"{BUS_NAME}.Error"
MODULES_PATH: Final = f"{ROOT_PATH}/modules"


def escape_path_element(text: str) -> str:
    """``text`` as one object-path element, as sd_bus_path_encode does: ASCII letters
    and digits stay, every other byte (and a leading digit) becomes ``_xx``
    ("llama.cpp" -> "llama_2ecpp", "0ad" -> "_30ad")."""
    if not text:
        return "_"
    return "".join(
        chr(b)
        if chr(b).isascii() and chr(b).isalnum() and not (i == 0 and chr(b).isdigit())
        else f"_{b:02x}"
        for i, b in enumerate(text.encode("utf-8"))
    )


def module_path(name: str) -> str:
    return f"{MODULES_PATH}/{escape_path_element(name)}"


# Coarse polkit actions (see polkit/org.localaistack.policy).
ACTION_READ: Final = f"{PREFIX}.read"
ACTION_MODULE_CONTROL: Final = f"{PREFIX}.module-control"
ACTION_MODULE_MANAGE: Final = f"{PREFIX}.module-manage"
ACTION_MODEL_MANAGE: Final = f"{PREFIX}.model-manage"
ACTION_SYSTEM_MANAGE: Final = f"{PREFIX}.system-manage"
ACTION_SECRETS: Final = f"{PREFIX}.secrets"
ACTION_POLICY_OVERRIDE: Final = f"{PREFIX}.policy-override"

ALL_ACTIONS: Final = (
    ACTION_READ,
    ACTION_MODULE_CONTROL,
    ACTION_MODULE_MANAGE,
    ACTION_MODEL_MANAGE,
    ACTION_SYSTEM_MANAGE,
    ACTION_SECRETS,
    ACTION_POLICY_OVERRIDE,
)

# Filesystem layout (defaults; adapters take roots as parameters).
STATE_DIR: Final = "/var/lib/localaistack"
MODELS_DIR: Final = f"{STATE_DIR}/models"
CONFIG_DIR: Final = "/etc/localaistack"
SHIPPED_POLICIES_DIR: Final = "/usr/share/localaistack/policies"
ADMIN_POLICIES_DIR: Final = f"{CONFIG_DIR}/policies.d"
SHIPPED_CATALOG_DIR: Final = "/usr/share/localaistack/catalog"
ADMIN_CATALOG_DIR: Final = f"{CONFIG_DIR}/catalog.d"
SHIPPED_KEYS_DIR: Final = "/usr/share/localaistack/keys"
ADMIN_KEYS_DIR: Final = f"{CONFIG_DIR}/keys.d"
