"""The input formats shipyard.platform.invalid checks that the API server would refuse later: cron schedules
and time zones of the backup CronJob."""

from __future__ import annotations

import importlib.util
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
spec = importlib.util.spec_from_file_location("shipyard_validate", ROOT / "plugins/filter/validate.py")
validate = importlib.util.module_from_spec(spec)
spec.loader.exec_module(validate)
shipyard_invalid = validate.shipyard_invalid


@pytest.mark.parametrize(
    "schedule",
    ["17 3 * * *", "@daily", "@hourly", "*/15 * * * mon-fri", "0 0 1 jan,jul *", "0 6-18/2 * * 1-5", "0 0 ? * 0"],
)
def test_schedules_the_cronjob_controller_accepts_pass(schedule: str) -> None:
    assert shipyard_invalid(schedule, "schedule", "s") == []


@pytest.mark.parametrize(
    "schedule",
    ["61 * * * *", "0 24 * * *", "0 0 0 * *", "0 0 * 13 *", "0 0 * * 8", "5-2 * * * *", "*/0 * * * *",
     "* * * *", "* * * * * *", "TZ=UTC 0 * * * *", "@often", "0 0 * * funday", ""],
)  # fmt: skip
def test_schedules_it_refuses_are_named(schedule: str) -> None:
    assert shipyard_invalid(schedule, "schedule", "app_deploy_backup_schedule") == [
        f"app_deploy_backup_schedule: {schedule!r} is not a cron schedule (five fields: minute hour day-of-month "
        "month day-of-week, or @daily, @hourly, ...)"
    ]


@pytest.mark.parametrize("zone", ["Etc/UTC", "UTC", "Europe/Berlin", "America/Argentina/Buenos_Aires"])
def test_known_time_zones_pass(zone: str) -> None:
    assert shipyard_invalid(zone, "timezone", "z") == []


@pytest.mark.parametrize("zone", ["Mars/Olympus", "../etc/passwd", "Europe Berlin", ""])
def test_unknown_time_zones_are_named(zone: str) -> None:
    assert shipyard_invalid(zone, "timezone", "z") == [f"z: {zone!r} is not an IANA time zone (Etc/UTC, Europe/Berlin)"]


def test_spec_options_lists_every_entry_points_options_once() -> None:
    texts = [
        "argument_specs:\n  main:\n    options:\n      a_one: {type: str}\n      a_two: {type: int}\n"
        "  render:\n    options:\n      a_one: {type: str}\n      a_dir: {type: path}\n",
        "argument_specs:\n  main:\n    short_description: no options\n",
    ]
    assert validate.shipyard_spec_options(texts) == ["a_dir", "a_one", "a_two"]
