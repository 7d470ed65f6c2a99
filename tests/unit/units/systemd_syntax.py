"""A small reader of unit-file values that follows systemd's own rules (extract_first_word
with EXTRACT_UNQUOTE|EXTRACT_CUNESCAPE, config_parse_exec, specifier and environment
expansion), so tests can check what systemd will run, not what the renderer wrote."""

from __future__ import annotations

import re

_SIMPLE = {"a": "\a", "b": "\b", "f": "\f", "n": "\n", "r": "\r", "t": "\t", "v": "\v"}
_SIMPLE.update({"\\": "\\", '"': '"', "'": "'", "s": " "})


def _cunescape(text: str, i: int) -> tuple[str, int]:
    """The character the escape at text[i] (after the backslash) stands for, and the index
    after it."""
    c = text[i]
    if c in _SIMPLE:
        return _SIMPLE[c], i + 1
    if c == "x":
        value = int(text[i + 1 : i + 3], 16)
        assert value != 0, "systemd refuses \\x00"
        return chr(value), i + 3
    raise AssertionError(f"systemd does not know the escape \\{c} in {text!r}")


def words(value: str, *, unescape: bool = True, separators: str = " \t") -> list[str]:
    """Split like extract_first_word(EXTRACT_UNQUOTE[|EXTRACT_CUNESCAPE])."""
    out: list[str] = []
    i, n = 0, len(value)
    while True:
        while i < n and value[i] in separators:
            i += 1
        if i >= n:
            return out
        word, quote = [], ""
        bare_semicolon = value[i] == ";"
        while i < n:
            c = value[i]
            if c == "\\":
                assert i + 1 < n, f"trailing backslash in {value!r}"
                if unescape:
                    char, i = _cunescape(value, i + 1)
                else:
                    char, i = value[i + 1], i + 2
                word.append(char)
                continue
            if quote:
                if c == quote:
                    quote = ""
                else:
                    word.append(c)
            elif c in "'\"":
                quote = c
            elif c in separators:
                break
            else:
                word.append(c)
            i += 1
        assert not quote, f"unbalanced quotes in {value!r}"
        assert not bare_semicolon or word != [";"], f"an unquoted ';' ends the command: {value!r}"
        out.append("".join(word))


def specifiers(word: str) -> str:
    """Expand specifiers; the renderer must leave none but %% (a literal %)."""

    def one(match: re.Match[str]) -> str:
        assert match.group(1) == "%", f"specifier %{match.group(1)} would expand in {word!r}"
        return "%"

    assert not word.endswith("%") or word.endswith("%%"), word
    return re.sub(r"%(.)", one, word)


def no_env(word: str) -> str:
    """Exec-time environment expansion: $$ is a literal $, any other $ would expand."""

    def one(match: re.Match[str]) -> str:
        assert match.group(1) == "$", f"${match.group(1)} would be expanded in {word!r}"
        return "$"

    assert not re.search(r"(?<!\$)(\$\$)*\$$", word), f"a trailing $ in {word!r}"
    return re.sub(r"\$(.)", one, word)


PREFIXES = "@-:+!"


def exec_argv(value: str) -> tuple[str, list[str]]:
    """(prefixes, argv) systemd runs for an Exec*= value with one command."""
    argv = words(value)
    first = argv[0]
    prefix = ""
    while first and first[0] in PREFIXES:
        prefix, first = prefix + first[0], first[1:]
    argv[0] = first
    return prefix, [no_env(specifiers(w)) for w in argv]


def environment(value: str) -> dict[str, str]:
    """What an Environment= value assigns (no environment expansion there)."""
    out = {}
    for word in words(value):
        name, sep, val = specifiers(word).partition("=")
        assert sep, word
        out[name] = val
    return out


def path_list(value: str) -> list[str]:
    """The paths of a path-list value (BindReadOnlyPaths=, DeviceAllow='s node): quotes,
    no C escapes, and ``:`` outside quotes separates a source from its destination."""
    return [specifiers(w) for w in words(value, unescape=False, separators=" \t:")]
