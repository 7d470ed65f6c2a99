"""The module manifest format (apiVersion localaistack.org/v1, kind Module).

A manifest describes one module and several of its versions: what each needs
(hardware, other modules, system packages, runtime constraints such as CUDA),
how it can be executed (native artifact per architecture, apt packages per
release, container image, Python virtualenv), the service it runs, the
interfaces it provides and consumes, and integrity data.

Values nobody can know offline (a checksum or image digest upstream does not
publish in a place reachable here) are written as the literal ``unknown`` and
listed by ``Manifest.unknowns()``; validation reports them, installation will
refuse to use them. Nothing is invented. docs/module.schema.json is generated.
"""

from __future__ import annotations

from typing import Annotated, Literal

from packaging.requirements import InvalidRequirement, Requirement
from packaging.version import InvalidVersion, Version
from pydantic import (
    AfterValidator,
    BaseModel,
    ConfigDict,
    Field,
    field_validator,
    model_validator,
)

UNKNOWN = "unknown"
ModuleName = Annotated[str, Field(pattern=r"^[a-z0-9][a-z0-9.+-]{0,62}$")]
Sha256 = Annotated[str, Field(pattern=r"^([0-9a-f]{64}|unknown)$")]
Digest = Annotated[str, Field(pattern=r"^(sha256:[0-9a-f]{64}|unknown)$")]
Url = Annotated[str, Field(pattern=r"^https://[^\s]+$")]
Release = Literal["debian-12", "debian-13", "ubuntu-22.04", "ubuntu-24.04"]
Arch = Literal["x86_64", "aarch64"]
Category = Literal["language", "runtime", "framework", "service", "application", "tool"]
# Values that end up in unit files, command lines and package manager calls: one line,
# no control characters; package names as Debian policy spells them (never an option).
Text = Annotated[str, Field(pattern=r"^[^\x00-\x1f\x7f]*$")]
Word = Annotated[str, Field(min_length=1, pattern=r"^[^\x00-\x20\x7f]+$")]
DebPackage = Annotated[str, Field(pattern=r"^[a-z0-9][a-z0-9+.-]+(:[a-z0-9-]+)?$")]


def _inside(value: str) -> str:
    parts = value.split("/")
    if value.startswith("/") or ".." in parts or "" in parts:
        raise ValueError(f"{value!r} must be a relative path inside the payload, without '..'")
    return value


RelativePath = Annotated[
    str,
    Field(
        pattern=r"^[A-Za-z0-9._+/-]+$", description="a path inside the payload: relative, no '..'"
    ),
    AfterValidator(_inside),
]
Mode = Literal["native", "apt", "container", "venv"]
MODES: tuple[Mode, ...] = ("native", "apt", "container", "venv")


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class Metadata(_Strict):
    name: ModuleName
    category: Category
    title: Text = Field(min_length=1)
    description: Text = Field(min_length=1)
    homepage: Url
    license: Text = Field(min_length=1, description="SPDX expression")


class HardwareNeeds(_Strict):
    min_rank: int | None = Field(None, ge=0, description="lowest capability tier rank")
    gpu: Literal["required", "optional", "none"] = "none"
    gpu_vendors: tuple[Literal["nvidia", "amd", "intel"], ...] = ()
    min_vram_gib: float | None = Field(None, gt=0)
    min_ram_gib: float | None = Field(None, gt=0)
    cpu_features: tuple[Word, ...] = ()
    disk_gib: float | None = Field(None, gt=0, description="payload size on disk")


def _requirement(text: str) -> str:
    try:
        Requirement(text)
    except InvalidRequirement as exc:
        raise ValueError(f"{text!r} is not a requirement like 'name>=1.2': {exc}") from None
    return text


Requirement_ = Annotated[str, Field(description="PEP 508 style: name and version specifiers")]


class Needs(_Strict):
    hardware: HardwareNeeds = HardwareNeeds()
    modules: tuple[Requirement_, ...] = Field((), description="other modules, e.g. 'python>=3.10'")
    runtime: tuple[Requirement_, ...] = Field((), description="host constraints, e.g. 'cuda>=12.1'")
    system_packages: dict[Release, tuple[DebPackage, ...]] = Field(default_factory=dict)

    @field_validator("modules", "runtime")
    @classmethod
    def _specifiers(cls, value: tuple[str, ...]) -> tuple[str, ...]:
        return tuple(_requirement(v) for v in value)


class Artifact(_Strict):
    url: Url
    sha256: Sha256
    strip_components: int = Field(0, ge=0)


class NativeMode(_Strict):
    artifacts: dict[Arch, Artifact] = Field(min_length=1)
    entrypoint: RelativePath = Field(description="path inside the payload, e.g. bin/llama-server")


class AptMode(_Strict):
    packages: dict[Release, tuple[DebPackage, ...]] = Field(min_length=1)


class ContainerMode(_Strict):
    image: str = Field(pattern=r"^[a-z0-9.-]+(:[0-9]+)?/[a-z0-9._/-]+:[A-Za-z0-9._-]+$")
    digest: Digest
    gpu: Literal["cdi-nvidia", "amd-kfd", "intel-dri", "none"] = "none"
    volumes: tuple[Word, ...] = ()
    args: tuple[Text, ...] = ()


class VenvMode(_Strict):
    requirements: tuple[Requirement_, ...] = Field(min_length=1)
    python: str = Field(">=3.10", description="specifier for the interpreter")
    wheel_index: dict[Literal["cpu", "cuda11", "cuda12", "rocm"], Url] = Field(
        default_factory=dict, description="extra index per accelerator stack"
    )

    @field_validator("requirements")
    @classmethod
    def _specifiers(cls, value: tuple[str, ...]) -> tuple[str, ...]:
        return tuple(_requirement(v) for v in value)


class Modes(_Strict):
    native: NativeMode | None = None
    apt: AptMode | None = None
    container: ContainerMode | None = None
    venv: VenvMode | None = None
    prefer: tuple[Mode, ...] = Field(min_length=1)

    @model_validator(mode="after")
    def _preferred_modes_exist(self) -> Modes:
        for mode in self.prefer:
            if getattr(self, mode) is None:
                raise ValueError(f"prefer lists {mode!r} but no {mode} mode is described")
        return self


class ModuleVersion(_Strict):
    version: str = Field(description="PEP 440 version; upstream's own tag goes to upstream_tag")
    upstream_tag: str | None = None
    needs: Needs = Needs()
    modes: Modes

    @field_validator("version")
    @classmethod
    def _pep440(cls, value: str) -> str:
        try:
            Version(value)
        except InvalidVersion:
            raise ValueError(
                f"{value!r} is not a PEP 440 version (put tags in upstream_tag)"
            ) from None
        return value


class Port(_Strict):
    name: Annotated[str, Field(pattern=r"^[a-z][a-z0-9-]{0,30}$")]
    port: int = Field(ge=1, le=65535)
    protocol: Literal["tcp", "udp"] = "tcp"


class HealthCheck(_Strict):
    http: str | None = Field(None, pattern=r"^/[^\s]*$", description="path on the first port")
    tcp: bool = False
    exec: tuple[Text, ...] = ()
    interval_s: float = Field(10, gt=0)
    timeout_s: float = Field(5, gt=0)

    @model_validator(mode="after")
    def _one_kind(self) -> HealthCheck:
        kinds = sum([self.http is not None, self.tcp, bool(self.exec)])
        if kinds != 1:
            raise ValueError("a health check is exactly one of http, tcp or exec")
        return self


class Service(_Strict):
    command: tuple[Text, ...] = Field(min_length=1)
    environment: dict[Annotated[str, Field(pattern=r"^[A-Z_][A-Z0-9_]*$")], Text] = Field(
        default_factory=dict
    )
    ports: tuple[Port, ...] = ()
    health: HealthCheck | None = None
    restart: Literal["no", "on-failure", "always"] = "on-failure"
    memory_max_gib: float | None = Field(None, gt=0)
    cpu_weight: int | None = Field(None, ge=1, le=10000)
    jit: bool = Field(
        False,
        description="the service writes machine code at run time (V8, the JVM, PyTorch's "
        "oneDNN): its unit cannot have MemoryDenyWriteExecute",
    )


class Interfaces(_Strict):
    provides: tuple[Annotated[str, Field(pattern=r"^[a-z0-9][a-z0-9-]*$")], ...] = ()
    consumes: tuple[Annotated[str, Field(pattern=r"^[a-z0-9][a-z0-9-]*$")], ...] = ()


class Signature(_Strict):
    ed25519: Annotated[str, Field(pattern=r"^[A-Za-z0-9+/]{86}==$")]
    key_id: str


class Manifest(_Strict):
    apiVersion: Literal["localaistack.org/v1"]
    kind: Literal["Module"]
    metadata: Metadata
    versions: tuple[ModuleVersion, ...] = Field(min_length=1)
    service: Service | None = None
    interfaces: Interfaces = Interfaces()
    signature: Signature | None = None

    @model_validator(mode="after")
    def _unique_versions(self) -> Manifest:
        seen = [Version(v.version) for v in self.versions]
        if len(set(seen)) != len(seen):
            raise ValueError("a version is listed twice")
        return self

    def unknowns(self) -> list[str]:
        """Where the manifest says a value cannot be known offline."""
        found = []
        for i, ver in enumerate(self.versions):
            modes = ver.modes
            if modes.native:
                for arch, art in modes.native.artifacts.items():
                    if art.sha256 == UNKNOWN:
                        found.append(f"versions[{i}] ({ver.version}).native.{arch}.sha256")
            if modes.container and modes.container.digest == UNKNOWN:
                found.append(f"versions[{i}] ({ver.version}).container.digest")
        return found
