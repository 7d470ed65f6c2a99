"""The exact words of what the writers render and refuse: which field a refusal names, its
whole message and hint, and which characters force a word into quotes."""

from __future__ import annotations

from typing import Any

import pytest

from lais_agent.errors import InvalidArgs
from lais_agent.units import unitfile
from tests.unit.hardware.test_detect_fixtures import probe
from tests.unit.units.test_render import gpu, manifest, render, with_gpus


def refusal(call: Any, *args: Any, **kwargs: Any) -> InvalidArgs:
    with pytest.raises(InvalidArgs) as err:
        call(*args, **kwargs)
    return err.value


# ---------------------------------------------------------------- quoting


@pytest.mark.parametrize(
    ("arg", "written"),
    [
        ("a\x01b", '"a\\x01b"'),  # a control character alone quotes the word
        ("a\x1fb", '"a\\x1fb"'),
        ("a\x7fb", '"a\\x7fb"'),  # DEL alone quotes it too
        ("a\x80b", "a\x80b"),  # the first non-ASCII character does not
        ("a!b", "a!b"),  # '!' (0x21) is only a prefix at the start of the executable
        ("a b", '"a b"'),
    ],
)
def test_which_characters_quote_a_word(arg: str, written: str) -> None:
    assert unitfile.exec_command(["/x", arg], "cmd") == f"/x {written}"


# ---------------------------------------------------------------- exec_command


def test_every_prefix_together_is_accepted() -> None:
    assert unitfile.exec_command(["/bin/x"], "c", "@-:+!") == "@-:+!/bin/x"


def test_a_relative_executable_is_refused_with_the_hint() -> None:
    err = refusal(unitfile.exec_command, ["bin/x"], "c")
    assert err.message == "c[0]: 'bin/x' is not an absolute path to an executable"
    assert err.hint == "a command starts with the program's absolute path, e.g. {payload}/bin/x"


# ---------------------------------------------------------------- whole messages


def test_the_line_break_refusal_in_full() -> None:
    err = refusal(unitfile.one_line, "a\nb", "f")
    assert err.message == (
        "f: 'a\\nb' holds a newline; values that reach a unit file must be one line"
    )


def test_the_path_list_refusal_in_full() -> None:
    err = refusal(unitfile.path, '/a"b', "p")
    assert err.message == (
        "p: '/a\"b' holds a backslash or double quote, which systemd does not read the same "
        "way in every release's path lists"
    )


# ---------------------------------------------------------------- fields the renderer names


def test_a_control_character_in_an_environment_value_names_the_variable() -> None:
    m = manifest(environment={"SRV_OPT": "[{setting:opt}]"})
    err = refusal(render, m, probe("laptop-cpu-only"), settings={"opt": "\x01"})
    assert err.message == (
        "service.environment.SRV_OPT: '[\\x01]' holds the control character 0x01; systemd "
        "refuses environment values with control characters other than tab"
    )


def test_a_gpu_node_that_is_no_absolute_path_names_the_gpu() -> None:
    arc = gpu("0000:03:00.0", "intel", node="dri/renderD129")
    err = refusal(render, manifest(), with_gpus(arc))
    assert err.message == "gpu: 'dri/renderD129' is not an absolute path"


@pytest.mark.parametrize(("field", "value"), [("title", "a\nb"), ("homepage", "https://a\rb")])
def test_a_manifest_text_that_skipped_validation_is_refused_naming_it(
    field: str, value: str
) -> None:
    # The manifest schema already refuses control characters; the renderer refuses them
    # again for a Manifest built without validation, naming the metadata field.
    m = manifest()
    m = m.model_copy(update={"metadata": m.metadata.model_copy(update={field: value})})
    err = refusal(render, m, probe("laptop-cpu-only"))
    shown = f"LocalAIStack: {value}" if field == "title" else value
    assert err.message.startswith(f"{field}: {shown!r} holds a ")
