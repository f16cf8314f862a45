from __future__ import annotations

from pathlib import Path

import pytest

from evidencehub.config import MASK, load_settings, mask_url_password
from evidencehub.errors import ConfigError

CONFIG = """
defaults:
  ingest: {max_output_kb: 16}
environments:
  local: {}
  staging:
    database_url: postgresql+psycopg://evidence:s3cr3t@db.staging/evidence
    ingest: {batch_size: 200}
  production:
    log: {format: json}
"""


@pytest.fixture
def config_file(tmp_path: Path) -> Path:
    path = tmp_path / "evidencehub.yaml"
    path.write_text(CONFIG)
    return path


def test_defaults_use_the_xdg_data_home_and_sqlite(tmp_path: Path) -> None:
    settings = load_settings()
    assert settings.env == "local"
    assert settings.data_dir == tmp_path / "xdg-data" / "evidencehub"
    assert settings.effective_database_url() == f"sqlite:///{settings.data_dir / 'evidencehub.db'}"


def test_data_dir_from_environment_variable(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setenv("EVIDENCEHUB_DATA_DIR", str(tmp_path / "elsewhere"))
    assert load_settings().data_dir == tmp_path / "elsewhere"


def test_named_environment_merges_over_defaults(config_file: Path) -> None:
    settings = load_settings("staging", config_file)
    assert settings.env == "staging"
    assert settings.ingest.batch_size == 200
    assert settings.ingest.max_output_kb == 16  # from defaults
    assert settings.effective_database_url().startswith("postgresql+psycopg://evidence:s3cr3t@")


def test_environment_variable_beats_config_file(config_file: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("EVIDENCEHUB_INGEST__BATCH_SIZE", "77")
    assert load_settings("staging", config_file).ingest.batch_size == 77


def test_explicit_override_beats_everything(config_file: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("EVIDENCEHUB_DATA_DIR", "/from/env")
    settings = load_settings("staging", config_file, data_dir=Path("/from/flag"))
    assert settings.data_dir == Path("/from/flag")


def test_environment_chosen_by_variable(config_file: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("EVIDENCEHUB_ENV", "production")
    assert load_settings(config_file=config_file).log.format == "json"


def test_unknown_environment_lists_known_ones(config_file: Path) -> None:
    with pytest.raises(ConfigError) as raised:
        load_settings("prod", config_file)
    assert "unknown environment 'prod'" in raised.value.message
    assert "local, production, staging" in raised.value.message
    assert raised.value.exit_code == 3


def test_unknown_environment_without_config_file() -> None:
    with pytest.raises(ConfigError, match="no config file found"):
        load_settings("staging")


def test_invalid_value_names_the_field(tmp_path: Path) -> None:
    path = tmp_path / "bad.yaml"
    path.write_text("defaults:\n  ingest: {batch_size: -3}\n")
    with pytest.raises(ConfigError, match=r"ingest\.batch_size"):
        load_settings(config_file=path)


def test_unknown_key_is_an_error_not_ignored(tmp_path: Path) -> None:
    path = tmp_path / "typo.yaml"
    path.write_text("defaults:\n  ingest: {batch_sise: 10}\n")
    with pytest.raises(ConfigError, match="batch_sise"):
        load_settings(config_file=path)


def test_broken_yaml_names_file_and_line(tmp_path: Path) -> None:
    path = tmp_path / "broken.yaml"
    path.write_text("defaults:\n  ingest: [unclosed\n")
    with pytest.raises(ConfigError) as raised:
        load_settings(config_file=path)
    assert str(path) in raised.value.message
    assert "line" in raised.value.message


def test_config_file_found_in_xdg_config_home(tmp_path: Path) -> None:
    target = tmp_path / "xdg-config" / "evidencehub" / "config.yaml"
    target.parent.mkdir(parents=True)
    target.write_text(CONFIG)
    assert load_settings("staging").config_file == target


def test_redacted_masks_secrets_and_url_passwords(config_file: Path) -> None:
    redacted = load_settings("staging", config_file).redacted()
    assert redacted["database_url"] == f"postgresql+psycopg://evidence:{MASK}@db.staging/evidence"
    assert "s3cr3t" not in str(redacted)


def test_mask_url_password_leaves_passwordless_urls() -> None:
    assert mask_url_password("redis://127.0.0.1:6379/0") == "redis://127.0.0.1:6379/0"
    assert mask_url_password("redis://:pw@host:6379/0") == f"redis://:{MASK}@host:6379/0"
