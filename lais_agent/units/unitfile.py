"""systemd unit files in memory: ordered sections, repeated keys, and the escaping systemd
needs so that a value means exactly what was asked. Pure.

How systemd reads the values written here (systemd.unit(5), systemd.service(5),
systemd.exec(5); ``extract_first_word`` and ``config_parse_exec`` in src/shared):

- **Specifiers.** ``%`` starts a specifier (``%n``, ``%i``, ...) in the values of most
  directives (Description, Documentation, Exec*, Environment, paths, StateDirectory), so a
  literal ``%`` is written ``%%`` everywhere: it is never wrong where no specifier is
  expanded, because no value here reaches such a directive.
- **Command lines** (Exec*=) are split into words after C-style unquoting: a word in double
  quotes keeps its spaces, ``\\"`` and ``\\\\`` stand for ``"`` and ``\\``, ``\\t`` and ``\\xNN``
  for control characters. Then each word's ``$NAME`` / ``${NAME}`` is replaced from the
  environment at exec time, so a literal ``$`` is written ``$$``. A lone unquoted ``;``
  separates commands; a quoted one does not. The first word is the executable and may
  start with the prefixes ``@-:+!`` -- they are read from the word *after* unquoting, so
  quoting cannot protect a path that starts with one: the executable must be absolute.
- **Environment=** takes quoted assignments with the same C unescaping; ``$`` has no
  meaning there. systemd refuses values with control characters other than tab.
- **Paths** (BindReadOnlyPaths=): quoted words, ``:`` separates source and destination
  outside quotes. Backslash escapes are not read the same by every systemd release in
  these directives, so a path with ``\\`` or ``"`` is refused.

A newline, carriage return or NUL in any value would end the line (or the string) and let
a value add directives: those are refused with ``InvalidArgs`` naming the field, never
escaped.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from lais_agent.errors import InvalidArgs

EXEC_PREFIXES = frozenset("@-:+!")
_KEY = re.compile(r"^[A-Za-z][A-Za-z0-9-]*$")
_SECTION = re.compile(r"^[A-Za-z][A-Za-z0-9-]*$")
_ENV_NAME = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")
_LINE_BREAKS = ("\n", "\r", "\x00")
# Characters after which a bare word would not be one literal word.
_NEEDS_QUOTES = frozenset(" \t\"'\\;")
_C_ESCAPES = {"\\": "\\\\", '"': '\\"', "\t": "\\t", "\x0b": "\\v", "\x0c": "\\f"}


def one_line(value: str, field: str) -> str:
    """``value`` when it holds no line break or NUL; else InvalidArgs naming ``field``."""
    for char in _LINE_BREAKS:
        if char in value:
            raise InvalidArgs(
                f"{field}: {value!r} holds a {_char_name(char)}; values that reach a unit "
                "file must be one line",
                hint="give the value without line breaks",
            )
    return value


def _char_name(char: str) -> str:
    return {"\n": "newline", "\r": "carriage return"}.get(char, "NUL character")


def specifiers(value: str) -> str:
    """``value`` with every ``%`` doubled, so no specifier is expanded."""
    return value.replace("%", "%%")


def text(value: str, field: str) -> str:
    """A plain one-line value (Description=, Documentation=, StateDirectory=)."""
    return specifiers(one_line(value, field))


def _c_escape(value: str) -> str:
    out = []
    for char in value:
        if char in _C_ESCAPES:
            out.append(_C_ESCAPES[char])
        elif ord(char) < 0x20 or ord(char) == 0x7F:
            out.append(f"\\x{ord(char):02x}")
        else:
            out.append(char)
    return "".join(out)


def _word(value: str) -> str:
    """One word, quoted only when a bare word would not be read back as ``value``."""
    bare = value != "" and not any(
        c in _NEEDS_QUOTES or ord(c) < 0x20 or ord(c) == 0x7F for c in value
    )
    return value if bare else f'"{_c_escape(value)}"'


def exec_arg(value: str, field: str) -> str:
    """One argument of a command line: specifiers and ``$`` doubled, quoted as needed."""
    return _word(one_line(value, field).replace("%", "%%").replace("$", "$$"))


def exec_command(argv: tuple[str, ...] | list[str], field: str, prefix: str = "") -> str:
    """An Exec*= value running ``argv`` exactly: ``argv[0]`` an absolute path, each
    argument one word, no environment expansion. ``prefix`` is made of ``@-:+!``."""
    if not argv:
        raise InvalidArgs(f"{field}: the command is empty")
    if not set(prefix) <= EXEC_PREFIXES:
        raise InvalidArgs(f"{field}: {prefix!r} is not made of the prefixes @-:+!")
    executable = one_line(argv[0], f"{field}[0]")
    if not executable.startswith("/") or executable.endswith("/"):
        raise InvalidArgs(
            f"{field}[0]: {executable!r} is not an absolute path to an executable",
            hint="a command starts with the program's absolute path, e.g. {payload}/bin/x",
        )
    words = [prefix + exec_arg(executable, f"{field}[0]")]
    words += [exec_arg(arg, f"{field}[{i}]") for i, arg in enumerate(argv[1:], 1)]
    return " ".join(words)


def env_assignment(name: str, value: str, field: str) -> str:
    """An Environment= value setting ``name`` to exactly ``value``."""
    if not _ENV_NAME.match(name):
        raise InvalidArgs(f"{field}: {name!r} is not an environment variable name")
    one_line(value, f"{field}.{name}")
    for char in value:
        if (ord(char) < 0x20 and char != "\t") or ord(char) == 0x7F:
            raise InvalidArgs(
                f"{field}.{name}: {value!r} holds the control character {ord(char):#04x}; "
                "systemd refuses environment values with control characters other than tab"
            )
    return _word(specifiers(f"{name}={value}"))


def path(value: str, field: str) -> str:
    """An absolute path as one word of a path list (BindReadOnlyPaths=, ...)."""
    one_line(value, field)
    if not value.startswith("/"):
        raise InvalidArgs(f"{field}: {value!r} is not an absolute path")
    if any(ord(c) < 0x20 or ord(c) == 0x7F for c in value):
        raise InvalidArgs(f"{field}: {value!r} holds a control character")
    if "\\" in value or '"' in value:
        raise InvalidArgs(
            f"{field}: {value!r} holds a backslash or double quote, which systemd does not "
            "read the same way in every release's path lists",
            hint="rename the file or directory",
        )
    escaped = specifiers(value)
    return escaped if not any(c in " ':" for c in value) else f'"{escaped}"'


@dataclass(frozen=True)
class Section:
    name: str
    entries: tuple[tuple[str, str], ...]  # (key, value already escaped), in order


@dataclass(frozen=True)
class UnitFile:
    """A unit file or drop-in: comment lines, then sections in order; a key may repeat."""

    header: tuple[str, ...]
    sections: tuple[Section, ...]

    def render(self) -> str:
        lines = [f"# {line}".rstrip() for line in self.header]
        for section in self.sections:
            if lines:
                lines.append("")
            lines.append(f"[{section.name}]")
            lines += [f"{key}={value}" for key, value in section.entries]
        return "\n".join(lines) + "\n"

    def values(self, section: str, key: str) -> tuple[str, ...]:
        """Every value of ``key`` in ``section``, in order (for callers and tests)."""
        return tuple(
            value for s in self.sections if s.name == section for k, value in s.entries if k == key
        )


class UnitFileBuilder:
    """Collects entries by section, in first-use order; ``build`` freezes them."""

    def __init__(self, *header: str) -> None:
        for line in header:
            one_line(line, "header")
        self._header = header
        self._sections: dict[str, list[tuple[str, str]]] = {}

    def add(self, section: str, key: str, value: str) -> UnitFileBuilder:
        """Add ``key=value`` to ``section``. ``value`` must already be escaped for the
        directive (see the functions above); a line break is refused all the same."""
        if not _SECTION.match(section):
            raise InvalidArgs(f"{section!r} is not a unit file section name")
        if not _KEY.match(key):
            raise InvalidArgs(f"{key!r} is not a unit file key")
        one_line(value, f"{section}.{key}")
        self._sections.setdefault(section, []).append((key, value))
        return self

    def build(self) -> UnitFile:
        return UnitFile(
            self._header,
            tuple(Section(name, tuple(entries)) for name, entries in self._sections.items()),
        )
