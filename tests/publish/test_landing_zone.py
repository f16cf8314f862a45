"""The landing zone writer on a local folder: limits, names, markers, URLs."""

from __future__ import annotations

import json
import time
from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st

from evidencehub.config import Settings, load_settings
from evidencehub.errors import ConfigError, InputError, RemoteError
from evidencehub.promotions.bundle import original_name
from evidencehub.publish.landing_zone import (
    COMPLETE_MARKER,
    LandingZone,
    _validate_relative_path,
    public_url,
    storage_options,
)


@pytest.fixture
def zone_settings(tmp_path: Path) -> Settings:
    return load_settings(data_dir=tmp_path / "data")


def test_default_zone_is_a_folder_in_the_data_dir(zone_settings: Settings) -> None:
    zone = LandingZone(zone_settings)
    expected = (zone_settings.data_dir / "landing-zone").resolve().as_uri()
    assert zone.url == expected
    assert zone.bundle_url("b-1") == f"{expected}/b-1"


def test_a_bundle_lands_only_with_its_marker(zone_settings: Settings) -> None:
    zone = LandingZone(zone_settings)
    writer = zone.begin("b-1")
    writer.add_bytes("data/one.txt", b"one")
    writer.add_stream("manifest.json", [b"{", b"}"])
    assert zone.completed("b-1") is None and zone.list_files("b-1") == []

    completion = writer.commit("manifest.json")

    assert zone.completed("b-1") == completion
    assert completion.files == 2 and completion.total_bytes == 5
    assert zone.list_files("b-1") == [COMPLETE_MARKER, "data/one.txt", "manifest.json"]
    assert zone.read_bytes("b-1", "data/one.txt") == b"one"


def test_a_marker_that_is_not_ours_does_not_count(zone_settings: Settings) -> None:
    folder = zone_settings.data_dir / "landing-zone" / "b-1"
    folder.mkdir(parents=True)
    (folder / COMPLETE_MARKER).write_text("half a marker {")
    zone = LandingZone(zone_settings)
    assert zone.completed("b-1") is None
    (folder / COMPLETE_MARKER).write_text(json.dumps({"manifest_sha256": "x"}))
    assert zone.completed("b-1") is None


def test_a_file_past_max_file_mb_is_refused_naming_it(zone_settings: Settings) -> None:
    zone_settings.landing_zone.max_file_mb = 1
    writer = LandingZone(zone_settings).begin("b-1")
    chunk = b"x" * (512 * 1024)
    with pytest.raises(InputError, match=r"bundle file b-1/originals/big\.xml is larger than .*max_file_mb"):
        writer.add_stream("originals/big.xml", [chunk, chunk, b"!"])
    writer.abort()
    assert not (zone_settings.data_dir / "landing-zone" / ".staging" / "b-1").exists()


def test_a_bundle_past_max_bundle_mb_is_refused_naming_the_file(zone_settings: Settings) -> None:
    zone_settings.landing_zone.max_bundle_mb = 1
    writer = LandingZone(zone_settings).begin("b-1")
    writer.add_bytes("one.bin", b"x" * (1024 * 1024 - 10))
    with pytest.raises(InputError, match=r"max_bundle_mb .* while writing b-1/two\.bin"):
        writer.add_bytes("two.bin", b"y" * 11)


@pytest.mark.parametrize("path", ["../up", "/abs", "a//b", "a/./b", "sp ace", "_COMPLETE", ".staging/x", ""])
def test_file_paths_inside_a_bundle_are_checked(zone_settings: Settings, path: str) -> None:
    writer = LandingZone(zone_settings).begin("b-1")
    with pytest.raises(InputError):
        writer.add_bytes(path, b"x")


def test_the_same_file_twice_is_refused(zone_settings: Settings) -> None:
    writer = LandingZone(zone_settings).begin("b-1")
    writer.add_bytes("a.txt", b"1")
    with pytest.raises(InputError, match="written twice"):
        writer.add_bytes("a.txt", b"2")


def test_urls_shown_carry_no_credentials() -> None:
    assert public_url("s3://KEY:SECRET@bucket/prefix/") == "s3://bucket/prefix"
    assert (
        public_url("file:///var/lib/evidencehub/landing-zone") == "file:///var/lib/evidencehub/landing-zone"
    )


def test_s3_options_come_from_settings(tmp_path: Path) -> None:
    settings = load_settings(
        data_dir=tmp_path,
        landing_zone_url="s3://bucket/x",
        landing_zone={
            "s3_endpoint_url": "https://minio.internal:9000",
            "s3_region": "eu-west-1",
            "s3_access_key_id": "AKIA",
            "s3_secret_access_key": "hidden",
            "verify_tls": False,
        },
    )
    options = storage_options(settings, "s3://bucket/x")
    assert options["endpoint_url"] == "https://minio.internal:9000"
    assert (options["key"], options["secret"]) == ("AKIA", "hidden")
    assert options["client_kwargs"] == {"verify": False, "region_name": "eu-west-1"}
    assert "hidden" not in str(settings.redacted())


def test_an_unknown_scheme_is_a_config_error(tmp_path: Path) -> None:
    settings = load_settings(data_dir=tmp_path, landing_zone_url="nosuchscheme://x/y")
    with pytest.raises(ConfigError, match="landing zone nosuchscheme://x/y"):
        LandingZone(settings)


def test_a_writer_that_finishes_second_returns_the_first_bundle(zone_settings: Settings) -> None:
    zone = LandingZone(zone_settings)
    slow = zone.begin("b-1")
    slow.add_bytes("manifest.json", b'{"who": "slow"}')
    fast = LandingZone(zone_settings).begin("b-1")  # removes the slow attempt's staging
    fast.add_bytes("manifest.json", b'{"who": "fast"}')
    first = fast.commit("manifest.json")

    assert slow.commit("manifest.json") == first
    assert zone.read_bytes("b-1", "manifest.json") == b'{"who": "fast"}'


def test_a_writer_whose_staging_was_removed_cannot_complete(zone_settings: Settings) -> None:
    zone = LandingZone(zone_settings)
    slow = zone.begin("b-1")
    slow.add_bytes("data.txt", b"data")
    LandingZone(zone_settings).begin("b-1")  # a retry that believes the first attempt died
    slow.add_bytes("manifest.json", b"{}")
    with pytest.raises(RemoteError, match=r"bundle b-1: data\.txt missing or of another size in the staging"):
        slow.commit("manifest.json")
    assert zone.completed("b-1") is None


def test_credentials_in_the_url_are_refused_without_echoing_them(tmp_path: Path) -> None:
    settings = load_settings(data_dir=tmp_path, landing_zone_url="s3://AKIA:topsecret@bucket/x")
    with pytest.raises(ConfigError, match=r"landing_zone_url s3://bucket/x: credentials") as caught:
        LandingZone(settings)
    assert "topsecret" not in str(caught.value)


@given(st.integers(min_value=1, max_value=999), st.text(min_size=0, max_size=300))
def test_any_ingested_path_gives_a_usable_bundle_file_name(index: int, source_path: str) -> None:
    name = original_name(index, source_path)
    assert _validate_relative_path(f"originals/run-1/{name}") == f"originals/run-1/{name}"
    assert len(name) <= 160


def test_landing_zone_settings_come_from_the_environment(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("EVIDENCEHUB_LANDING_ZONE_URL", "s3://evidence/promotions")
    monkeypatch.setenv("EVIDENCEHUB_LANDING_ZONE__S3_ENDPOINT_URL", "http://127.0.0.1:9000")
    monkeypatch.setenv("EVIDENCEHUB_LANDING_ZONE__S3_SECRET_ACCESS_KEY", "from-env-secret")
    monkeypatch.setenv("EVIDENCEHUB_INGEST__KEEP_ORIGINALS", "false")
    settings = load_settings(data_dir=tmp_path)
    assert settings.effective_landing_zone_url() == "s3://evidence/promotions"
    assert settings.landing_zone.s3_endpoint_url == "http://127.0.0.1:9000"
    assert settings.ingest.keep_originals is False
    redacted = settings.redacted()
    assert "from-env-secret" not in str(redacted)
    assert redacted["landing_zone"]["s3_secret_access_key"] == "**********"


def test_staging_abandoned_past_its_age_is_removed_by_the_next_write(
    zone_settings: Settings, monkeypatch: pytest.MonkeyPatch
) -> None:
    zone_settings.landing_zone.stale_staging_hours = 1
    zone = LandingZone(zone_settings)
    abandoned = zone.begin("old-bundle")
    abandoned.add_bytes("a.txt", b"a")
    fresh = zone.begin("busy-bundle")
    fresh.add_bytes("b.txt", b"b")
    staging = zone_settings.data_dir / "landing-zone" / ".staging"
    assert len(list(staging.iterdir())) == 2

    real_time = time.time
    monkeypatch.setattr(time, "time", lambda: real_time() + 1800)  # half an hour on: both kept
    zone.begin("third")
    assert sorted(path.name.split(".")[0] for path in staging.iterdir()) == ["busy-bundle", "old-bundle"]

    monkeypatch.setattr(time, "time", lambda: real_time() + 7200)  # two hours on: both abandoned
    zone.begin("fourth")
    assert list(staging.iterdir()) == []
