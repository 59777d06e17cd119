"""Suite configuration: shipped suites validate, bad suites fail with messages that locate them."""

from __future__ import annotations

from pathlib import Path

import pytest

from accord.config import default_variants, load_suite, parse_suite
from accord.errors import ConfigError

REPO = Path(__file__).resolve().parent.parent


@pytest.mark.parametrize("name", ["mqm-ted-ende", "wmt19-darr-kk-en", "summeval"])
def test_shipped_suites_validate(name: str) -> None:
    suite = load_suite(REPO / "benchmarks" / f"{name}.toml")
    assert suite.name == name
    assert suite.metrics and suite.correlations


def _base() -> dict:
    return {"name": "x", "data": {"dataset": "mqm-ted-ende"}, "metrics": [{"name": "chrf"}]}


def test_unknown_key_is_named() -> None:
    bad = _base() | {"bootstrapp": {"n_resamples": 10}}
    with pytest.raises(ConfigError, match="bootstrapp"):
        parse_suite(bad, "s.toml")


def test_bad_coefficient_names_the_key_and_value() -> None:
    bad = _base() | {"correlations": [{"level": "segment", "coefficient": "kendal"}]}
    with pytest.raises(ConfigError, match=r"s\.toml.*correlations\.0\.coefficient.*'kendal'"):
        parse_suite(bad, "s.toml")


def test_system_level_rejects_grouping() -> None:
    bad = _base() | {"correlations": [{"level": "system", "coefficient": "pearson",
                                       "grouping": "item"}]}
    with pytest.raises(ConfigError, match="grouping 'none'"):
        parse_suite(bad)


def test_data_needs_exactly_one_source() -> None:
    with pytest.raises(ConfigError, match="exactly one"):
        parse_suite(_base() | {"data": {"dataset": "a", "path": "b", "format": "mqm-tsv"}})
    with pytest.raises(ConfigError, match="data.format"):
        parse_suite(_base() | {"data": {"path": "b"}})


def test_duplicate_labels_rejected() -> None:
    with pytest.raises(ConfigError, match="repeated: chrf"):
        parse_suite(_base() | {"metrics": [{"name": "chrf"}, {"name": "chrf"}]})


def test_missing_file_and_bad_toml(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="does not exist"):
        load_suite(tmp_path / "nope.toml")
    broken = tmp_path / "broken.toml"
    broken.write_text("name = \n", encoding="utf-8")
    with pytest.raises(ConfigError, match="broken.toml: not valid TOML"):
        load_suite(broken)


def test_default_variants() -> None:
    assert [v.coefficient for v in default_variants(True, False)] == ["wmt_kendall"]
    keys = [v.key for v in default_variants(False, True)]
    assert "system/none/pearson" in keys and "segment/item/kendall_b" in keys
