from __future__ import annotations

from lais_agent import errors


def test_names_codes_and_exit_codes_are_unique() -> None:
    types = errors.ERROR_TYPES
    assert len({t.dbus_name() for t in types}) == len(types)
    assert len({t.code for t in types}) == len(types)
    assert len({t.exit_code for t in types}) == len(types)
    assert all(t.dbus_name().startswith("org.localaistack.Agent1.Error.") for t in types)


def test_round_trip_through_dbus_names() -> None:
    for cls in errors.ERROR_TYPES:
        back = errors.from_dbus_name(cls.dbus_name(), "text")
        assert type(back) is cls
        assert back.message == "text"


def test_foreign_names_become_failed() -> None:
    assert type(errors.from_dbus_name("org.example.Nope", "x")) is errors.Failed
    assert type(errors.from_dbus_name(None, "x")) is errors.Failed
