"""Every value that can reach a unit means what was asked once systemd has read it:
``%``, ``$``, quotes, backslashes, leading ``-``/``@``/``+``/``!``, spaces and ``;`` go
through command arguments, settings, environment values, the model path and the texts,
and the rendered unit is read back with systemd's rules (tests/unit/units/systemd_syntax).
Line breaks are refused, naming the field."""

from __future__ import annotations

import copy
import re
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from lais_agent.catalog.manifest import Manifest
from lais_agent.errors import InvalidArgs
from lais_agent.policy.engine import evaluate
from lais_agent.policy.facts import facts_from
from lais_agent.units import unitfile
from lais_agent.units.render import ServiceTarget, render_service
from tests.unit.hardware.test_detect_fixtures import probe
from tests.unit.policy.test_engine import SHIPPED
from tests.unit.units import systemd_syntax as sd

NASTY = [
    "50%",
    "%n%i",
    "$HOME",
    "${HOME}",
    "$$",
    "a$",
    'say "hi"',
    "it's",
    "back\\slash",
    "trailing\\",
    "-leading-dash",
    "@at",
    "+plus",
    "!bang",
    ":colon",
    "two  spaces",
    " ",
    "",
    ";",
    "a ; b",
    "tab\there",
    "{state}",
    "ünïcödé",
]
# What a manifest may hold (one printable line; {…} there is a placeholder by design).
IN_MANIFESTS = [v for v in NASTY if v.isprintable() and v != "{state}"]
LINE_BREAKS = ["one\ntwo", "cr\rhere", "nul\x00here", "\n"]
RTX = probe("rtx4090")
CAP = evaluate(SHIPPED.tiers, SHIPPED.policies, facts_from(RTX))

BASE: dict[str, Any] = {
    "apiVersion": "localaistack.org/v1",
    "kind": "Module",
    "metadata": {
        "name": "srv",
        "category": "service",
        "title": "Srv",
        "description": "x",
        "homepage": "https://example.org/srv",
        "license": "MIT",
    },
    "versions": [
        {
            "version": "1.0",
            "needs": {"hardware": {"gpu": "optional"}},
            "modes": {"venv": {"requirements": ["srv==1.0"]}, "prefer": ["venv"]},
        }
    ],
    "service": {
        "command": ["{payload}/bin/srv", "--port", "{port:http}"],
        "ports": [{"name": "http", "port": 9000}],
    },
}


def manifest(**service: Any) -> Manifest:
    data = copy.deepcopy(BASE)
    data["service"].update(service)
    return Manifest.model_validate(data)


def render(m: Manifest, **target: Any) -> Any:
    args: dict[str, Any] = {"version": "1.0", "mode": "venv", "ports": {"http": 9000}}
    args.update(target)
    return render_service(m, ServiceTarget(**args), RTX, CAP)


def exec_start(rendered: Any) -> list[str]:
    (value,) = rendered.unit.values("Service", "ExecStart")
    prefix, argv = sd.exec_argv(value)
    assert prefix == ""
    return argv


def env(rendered: Any) -> dict[str, str]:
    out: dict[str, str] = {}
    for value in rendered.unit.values("Service", "Environment"):
        out.update(sd.environment(value))
    return out


PAYLOAD = "/var/lib/localaistack/modules/srv/current/bin/srv"


@pytest.mark.parametrize("value", IN_MANIFESTS)
def test_a_manifest_argument_reaches_the_command_as_written(value: str) -> None:
    m = manifest(command=["{payload}/bin/srv", value, "--port", "{port:http}"])
    assert exec_start(render(m)) == [PAYLOAD, value, "--port", "9000"]


@pytest.mark.parametrize("value", NASTY)
def test_a_setting_reaches_the_command_and_the_environment_as_given(value: str) -> None:
    m = manifest(
        command=["{payload}/bin/srv", "--opt={setting:opt}", "{setting:opt}"],
        environment={"SRV_OPT": "[{setting:opt}]"},
    )
    rendered = render(m, settings={"opt": value})
    assert exec_start(rendered) == [PAYLOAD, f"--opt={value}", value]
    assert env(rendered)["SRV_OPT"] == f"[{value}]"


@pytest.mark.parametrize(
    "value", [v for v in NASTY if v.isprintable() and "\\" not in v and '"' not in v]
)
def test_a_model_path_is_bound_and_passed_as_given(value: str) -> None:
    model = f"/var/lib/localaistack/models/{value or 'x'}/m.gguf".replace("//", "/x/")
    m = manifest(command=["{payload}/bin/srv", "--model", "{model}"])
    rendered = render(m, model=model)
    assert exec_start(rendered) == [PAYLOAD, "--model", model]
    (bind,) = rendered.unit.values("Service", "BindReadOnlyPaths")
    assert sd.path_list(bind) == [model]


@pytest.mark.parametrize("value", ["back\\slash", 'say "hi"'])
def test_a_model_path_systemd_cannot_bind_portably_is_refused(value: str) -> None:
    m = manifest(command=["{payload}/bin/srv", "{model}"])
    with pytest.raises(InvalidArgs, match=r"^model: .*backslash or double quote"):
        render(m, model=f"/models/{value}")


@pytest.mark.parametrize("value", IN_MANIFESTS)
def test_manifest_environment_values_are_assigned_as_written(value: str) -> None:
    rendered = render(manifest(environment={"SRV_X": value, "SRV_Y": f"{{state}}/{value}"}))
    assigned = env(rendered)
    assert assigned["SRV_X"] == value
    assert assigned["SRV_Y"] == f"/var/lib/lais/srv/{value}"


def test_titles_and_urls_keep_their_percent_signs() -> None:
    data = copy.deepcopy(BASE)
    data["metadata"]["title"] = "100% local %n"
    data["metadata"]["homepage"] = "https://example.org/a%20b"
    rendered = render(Manifest.model_validate(data))
    (description,) = rendered.unit.values("Unit", "Description")
    (documentation,) = rendered.unit.values("Unit", "Documentation")
    assert sd.specifiers(description) == "LocalAIStack: 100% local %n"
    assert sd.specifiers(documentation) == "https://example.org/a%20b"


@settings(max_examples=300, deadline=None)
@given(st.text(st.characters(blacklist_characters="\n\r\x00", blacklist_categories=("Cs",))))
def test_any_one_line_setting_round_trips_through_the_command_line(value: str) -> None:
    m = manifest(command=["{payload}/bin/srv", "{setting:x}", "-x{setting:x}"])
    assert exec_start(render(m, settings={"x": value})) == [PAYLOAD, value, f"-x{value}"]


@settings(max_examples=200, deadline=None)
@given(
    st.lists(st.text(st.characters(blacklist_characters="\n\r\x00", blacklist_categories=("Cs",))))
)
def test_any_argv_round_trips_through_exec_command(args: list[str]) -> None:
    argv = ["/usr/bin/x y%$", *args]
    assert sd.exec_argv(unitfile.exec_command(argv, "cmd")) == ("", argv)


@pytest.mark.parametrize("value", LINE_BREAKS)
def test_a_line_break_in_a_setting_is_refused_naming_it(value: str) -> None:
    m = manifest(command=["{payload}/bin/srv", "{setting:opt}"])
    with pytest.raises(InvalidArgs, match=r"^settings\.opt: .* holds a .*one line"):
        render(m, settings={"opt": value})


@pytest.mark.parametrize("value", LINE_BREAKS)
def test_a_line_break_in_the_model_path_is_refused(value: str) -> None:
    with pytest.raises(InvalidArgs, match=r"^model: "):
        render(manifest(command=["{payload}/bin/srv", "{model}"]), model=f"/m/{value}")


@pytest.mark.parametrize("value", LINE_BREAKS)
def test_each_writer_refuses_line_breaks(value: str) -> None:
    with pytest.raises(InvalidArgs, match=r"^cmd\[1\]: "):
        unitfile.exec_command(["/bin/x", value], "cmd")
    with pytest.raises(InvalidArgs, match=r"^env\.X: "):
        unitfile.env_assignment("X", value, "env")
    with pytest.raises(InvalidArgs, match=r"^p: "):
        unitfile.path(f"/a{value}", "p")
    with pytest.raises(InvalidArgs, match=r"^t: "):
        unitfile.text(value, "t")
    with pytest.raises(InvalidArgs, match=r"^Service\.X: "):
        unitfile.UnitFileBuilder().add("Service", "X", value)
    with pytest.raises(InvalidArgs, match=r"^header: "):
        unitfile.UnitFileBuilder(value)


@pytest.mark.parametrize("value", ["-/bin/sh", "@/bin/sh", "+/bin/sh", "!/bin/sh", "sh", ""])
def test_the_executable_is_an_absolute_path_so_no_prefix_can_be_smuggled(value: str) -> None:
    m = manifest(command=["{setting:exe}", "x"])
    with pytest.raises(InvalidArgs, match=r"^service\.command\[0\]: .*absolute path"):
        render(m, settings={"exe": value})


def test_a_substituted_value_is_not_expanded_again() -> None:
    m = manifest(command=["{payload}/bin/srv", "{setting:a}"])
    assert exec_start(render(m, settings={"a": "{state}{port:http}"})) == [
        PAYLOAD,
        "{state}{port:http}",
    ]


def test_control_characters_are_escaped_in_commands_and_refused_in_the_environment() -> None:
    value = "a\tb\x01c\x7f\x0b\x0c"
    assert sd.exec_argv(unitfile.exec_command(["/x", value], "cmd"))[1] == ["/x", value]
    assert sd.environment(unitfile.env_assignment("X", "a\tb", "env")) == {"X": "a\tb"}
    for char in "\x01\x1b\x7f":
        with pytest.raises(InvalidArgs, match=r"^env\.X: .*control character"):
            unitfile.env_assignment("X", f"a{char}", "env")
    with pytest.raises(InvalidArgs, match=r"^p: .*control character"):
        unitfile.path("/a\tb", "p")


def test_exec_prefixes_are_written_outside_the_word_and_checked() -> None:
    assert sd.exec_argv(unitfile.exec_command(["/bin/x", "-y"], "c", "-+")) == (
        "-+",
        ["/bin/x", "-y"],
    )
    with pytest.raises(InvalidArgs, match=r"^c: .*prefixes"):
        unitfile.exec_command(["/bin/x"], "c", "-x")
    with pytest.raises(InvalidArgs, match=r"^c: the command is empty"):
        unitfile.exec_command([], "c")
    with pytest.raises(InvalidArgs, match=r"absolute path"):
        unitfile.exec_command(["/bin/"], "c")


def test_environment_names_are_checked() -> None:
    for name in ("1X", "A-B", "A B", "", "A=B"):
        with pytest.raises(InvalidArgs, match="is not an environment variable name"):
            unitfile.env_assignment(name, "v", "env")
    assert unitfile.env_assignment("_a1", "v", "env") == "_a1=v"


@pytest.mark.parametrize(
    ("value", "name"),
    [("a\nb", "a newline"), ("a\rb", "a carriage return"), ("a\x00b", "a NUL character")],
)
def test_the_refusal_names_the_line_break(value: str, name: str) -> None:
    with pytest.raises(InvalidArgs, match=rf"^f: {re.escape(repr(value))} holds {name}; ") as err:
        unitfile.one_line(value, "f")
    assert err.value.hint == "give the value without line breaks"


def test_control_characters_never_reach_the_file_raw() -> None:
    rendered = unitfile.exec_command(["/x", "a\x01b\x7fc d\te"], "cmd")
    assert rendered.isprintable()
    assert rendered == '/x "a\\x01b\\x7fc d\\te"'  # a space stays a space inside quotes


def test_path_refusals_say_why_and_what_to_do() -> None:
    with pytest.raises(InvalidArgs, match=r"^p: 'a' is not an absolute path$"):
        unitfile.path("a", "p")
    with pytest.raises(InvalidArgs, match=r"^p: .*control character"):
        unitfile.path("/a\x7f", "p")
    with pytest.raises(InvalidArgs, match="read the same way in every release's path lists") as e:
        unitfile.path("/a\\b", "p")
    assert e.value.hint == "rename the file or directory"
    with pytest.raises(InvalidArgs, match=r"other than tab$"):
        unitfile.env_assignment("X", "\x01", "env")
    assert unitfile.path("/a:b", "p") == '"/a:b"'
    assert unitfile.path("/a'b", "p") == '"/a\'b"'
    assert unitfile.path("/a b", "p") == '"/a b"'
    assert unitfile.path("/aXb", "p") == "/aXb"
