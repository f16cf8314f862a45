"""The landing zone on S3: s3fs against moto's S3 server on loopback (real HTTP)."""

from __future__ import annotations

import hashlib
import json
import logging
from collections.abc import Iterator
from pathlib import Path

import boto3
import pytest
from moto.server import ThreadedMotoServer
from pydantic import SecretStr

from evidencehub.config import Settings
from evidencehub.db.session import Database
from evidencehub.errors import RemoteError
from evidencehub.promotions.bundle import store_evidence_bundle
from evidencehub.publish.landing_zone import COMPLETE_MARKER, BundleWriter, LandingZone
from tests.promotions.support import ingest_sample_build

BUCKET = "evidence-landing"
KEY_ID = "AKIAEVIDENCEHUBTEST"
SECRET = "s3cr3t-landing-zone-key"  # moto accepts any credentials
NAME = "evidence-prism-2026.11-1042-p7"
# The storage is what these tests exercise; the database is covered by test_bundle.py on both backends.
pytestmark = pytest.mark.parametrize("backend", ["sqlite"])


@pytest.fixture(scope="module")
def s3_endpoint() -> Iterator[str]:
    server = ThreadedMotoServer(ip_address="127.0.0.1", port=0, verbose=False)
    server.start()
    host, port = server.get_host_and_port()
    yield f"http://{host}:{port}"
    server.stop()


@pytest.fixture
def s3_settings(settings: Settings, s3_endpoint: str, request: pytest.FixtureRequest) -> Settings:
    client = boto3.client(
        "s3",
        endpoint_url=s3_endpoint,
        aws_access_key_id=KEY_ID,
        aws_secret_access_key=SECRET,
        region_name="us-east-1",
    )
    bucket = f"{BUCKET}-{abs(hash(request.node.nodeid)) % 10**8}"
    client.create_bucket(Bucket=bucket)
    settings.landing_zone_url = f"s3://{bucket}/promotions"
    zone = settings.landing_zone
    zone.s3_endpoint_url = s3_endpoint
    zone.s3_region = "us-east-1"
    zone.s3_access_key_id = SecretStr(KEY_ID)
    zone.s3_secret_access_key = SecretStr(SECRET)
    return settings


def _objects(settings: Settings) -> dict[str, bytes]:
    zone = settings.landing_zone
    client = boto3.client(
        "s3",
        endpoint_url=zone.s3_endpoint_url,
        aws_access_key_id=KEY_ID,
        aws_secret_access_key=SECRET,
        region_name="us-east-1",
    )
    assert settings.landing_zone_url is not None
    bucket = settings.landing_zone_url.removeprefix("s3://").split("/", 1)[0]
    found: dict[str, bytes] = {}
    for page in client.get_paginator("list_objects_v2").paginate(Bucket=bucket):
        for item in page.get("Contents", []):
            found[item["Key"]] = client.get_object(Bucket=bucket, Key=item["Key"])["Body"].read()
    return found


def test_bundle_lands_in_s3_with_every_checksum_right(
    database: Database,
    s3_settings: Settings,
    tmp_path: Path,
    caplog: pytest.LogCaptureFixture,
) -> None:
    sample = ingest_sample_build(database, s3_settings, tmp_path / "results")
    with caplog.at_level(logging.DEBUG):
        stored = store_evidence_bundle(database, s3_settings, build_id=sample.build_id, name=NAME)

    assert s3_settings.landing_zone_url is not None
    assert stored.url == f"{s3_settings.landing_zone_url}/{NAME}"
    objects = _objects(s3_settings)
    prefix = f"promotions/{NAME}/"
    assert all(key.startswith(prefix) for key in objects), sorted(objects)  # staging was removed
    manifest_bytes = objects[prefix + "manifest.json"]
    assert hashlib.sha256(manifest_bytes).hexdigest() == stored.manifest_sha256
    marker = json.loads(objects[prefix + COMPLETE_MARKER])
    assert marker["manifest_sha256"] == stored.manifest_sha256
    manifest = json.loads(manifest_bytes)
    for entry in manifest["files"]:
        data = objects[prefix + entry["path"]]
        assert hashlib.sha256(data).hexdigest() == entry["sha256"], entry["path"]
    assert len(objects) == stored.files + 1
    assert len(objects[prefix + "results.jsonl"].decode().splitlines()) == sample.results
    assert SECRET not in caplog.text and SECRET not in stored.url

    # Idempotent: the marker is trusted, nothing is written again.
    assert store_evidence_bundle(database, s3_settings, build_id=sample.build_id, name=NAME) == stored
    assert _objects(s3_settings) == objects


def test_an_unfinished_s3_bundle_is_replaced(
    database: Database, s3_settings: Settings, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    sample = ingest_sample_build(database, s3_settings, tmp_path / "results")
    with monkeypatch.context() as patch:
        patch.setattr(LandingZone, "_mark_complete", lambda *_args: (_ for _ in ()).throw(SystemExit(9)))
        patch.setattr(BundleWriter, "abort", lambda self: None)
        with pytest.raises(SystemExit):
            store_evidence_bundle(database, s3_settings, build_id=sample.build_id, name=NAME)
    zone = LandingZone(s3_settings)
    assert zone.completed(NAME) is None
    assert "manifest.json" in zone.list_files(NAME)

    stored = store_evidence_bundle(database, s3_settings, build_id=sample.build_id, name=NAME)
    assert zone.completed(NAME) is not None
    objects = _objects(s3_settings)
    assert len(objects) == stored.files + 1


def test_a_missing_bucket_is_a_remote_error_naming_the_zone_without_the_secret(
    database: Database, s3_settings: Settings, tmp_path: Path
) -> None:
    sample = ingest_sample_build(database, s3_settings, tmp_path / "results")
    s3_settings.landing_zone_url = "s3://no-such-bucket-here/x"
    with pytest.raises(RemoteError) as caught:
        store_evidence_bundle(database, s3_settings, build_id=sample.build_id, name=NAME)
    assert "s3://no-such-bucket-here/x" in caught.value.message
    assert SECRET not in str(caught.value) and SECRET not in json.dumps(caught.value.details)
