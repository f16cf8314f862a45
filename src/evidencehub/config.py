"""The one settings object of evidencehub.

Every option can be set, from highest to lowest precedence, by an explicit
override (a CLI flag), an ``EVIDENCEHUB_*`` environment variable (nested groups
use ``__``: ``EVIDENCEHUB_INGEST__MAX_FILE_MB=512``), the chosen environment of
the YAML config file, the file's ``defaults`` section, and the built-in default.

The YAML file has the shape::

    defaults:            # applies to every environment
      ingest: {max_output_kb: 128}
    environments:
      local: {}
      staging: {database_url: "postgresql+psycopg://evidence@db/evidence"}
      production: {...}

The environment is chosen by ``--env`` or ``EVIDENCEHUB_ENV`` (default ``local``).
"""

from __future__ import annotations

import os
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from contextvars import ContextVar
from pathlib import Path
from types import MappingProxyType
from typing import Any, Literal
from urllib.parse import urlsplit, urlunsplit

import yaml
from pydantic import BaseModel, ConfigDict, Field, SecretStr, ValidationError
from pydantic.fields import FieldInfo
from pydantic_settings import BaseSettings, PydanticBaseSettingsSource, SettingsConfigDict

from evidencehub.errors import ConfigError

ENV_PREFIX = "EVIDENCEHUB_"
DEFAULT_ENVIRONMENT = "local"
MASK = "**********"


def default_data_dir() -> Path:
    """The XDG data home for evidencehub (``~/.local/share/evidencehub``)."""
    xdg = os.environ.get("XDG_DATA_HOME")
    base = Path(xdg) if xdg else Path.home() / ".local" / "share"
    return base / "evidencehub"


def default_config_candidates() -> list[Path]:
    xdg = os.environ.get("XDG_CONFIG_HOME")
    config_home = Path(xdg) if xdg else Path.home() / ".config"
    return [Path("evidencehub.yaml"), config_home / "evidencehub" / "config.yaml"]


class Section(BaseModel):
    """Base of every settings group: unknown keys are an error, not silently ignored."""

    model_config = ConfigDict(extra="forbid", validate_default=True)


class DatabaseSettings(Section):
    pool_size: int = Field(10, ge=1, description="Connections kept open per process (PostgreSQL).")
    max_overflow: int = Field(20, ge=0, description="Extra connections allowed above pool_size under load.")
    pool_timeout_seconds: float = Field(30.0, gt=0, description="Wait for a free connection before failing.")
    sqlite_busy_timeout_ms: int = Field(30_000, ge=0, description="SQLite: wait this long on a locked DB.")
    sqlite_cache_mb: int = Field(
        32, ge=1, description="SQLite page cache per connection (large ingests update big indexes)."
    )
    echo: bool = Field(False, description="Log every SQL statement (debugging only).")


class IngestSettings(Section):
    max_file_mb: int = Field(4096, ge=1, description="Largest input accepted, after decompression.")
    max_depth: int = Field(64, ge=4, description="Deepest XML element nesting accepted.")
    max_field_kb: int = Field(1024, ge=1, description="Longest message, trace or attribute text kept.")
    max_output_kb: int = Field(64, ge=0, description="stdout/stderr kept per test; the rest is cut off.")
    batch_size: int = Field(5000, ge=1, description="Results written to the database per batch.")
    progress_min_mb: float = Field(4.0, ge=0, description="Show a progress bar for inputs above this size.")
    keep_originals: bool = Field(
        True, description="Keep every ingested file, by sha256, in <data_dir>/sources (evidence bundles)."
    )


class RateLimit(Section):
    """A token bucket: ``burst`` requests at once, refilled at ``per_minute`` a minute."""

    per_minute: int = Field(ge=1, description="Sustained requests a minute.")
    burst: int = Field(ge=1, description="Requests allowed at once from a full bucket.")


class WebSettings(Section):
    host: str = Field("127.0.0.1", description="Address `evidencehub serve` listens on.")
    port: int = Field(8000, ge=0, le=65535, description="Port `evidencehub serve` listens on (0: any free).")
    workers: int = Field(1, ge=1, description="uvicorn worker processes.")
    cors_origins: list[str] = Field(default_factory=list, description="Origins allowed by CORS (none: off).")
    max_upload_mb: int = Field(512, ge=1, description="Largest request body accepted (result uploads).")
    max_body_kb: int = Field(1024, ge=1, description="Largest body of any other request (JSON).")
    default_page_size: int = Field(50, ge=1, description="List endpoints: items per page by default.")
    max_page_size: int = Field(1000, ge=1, description="List endpoints: most items per page.")
    rate_limit_enabled: bool = Field(True, description="Answer 429 when a caller exceeds its rate.")
    rate_limit_user: RateLimit = Field(
        default_factory=lambda: RateLimit(per_minute=600, burst=100),
        description="Per signed-in user.",
    )
    rate_limit_token: RateLimit = Field(
        default_factory=lambda: RateLimit(per_minute=1200, burst=200),
        description="Per API token (CI uploads).",
    )
    rate_limit_ip: RateLimit = Field(
        default_factory=lambda: RateLimit(per_minute=300, burst=60),
        description="Per client address, for requests without credentials (sign-in included).",
    )
    metrics_public: bool = Field(True, description="Serve /metrics without credentials (scrapers).")
    temp_dir: Path | None = Field(None, description="Where uploads are spooled (default: <data_dir>/tmp).")


class AuthSettings(Section):
    jwt_secret: SecretStr | None = Field(
        None, description="HMAC key for access tokens; generated into <data_dir>/jwt-secret when unset."
    )
    jwt_algorithm: Literal["HS256", "HS384", "HS512"] = "HS256"
    issuer: str = Field("evidencehub", description="The `iss` claim of access tokens.")
    access_token_minutes: float = Field(15, gt=0, description="Lifetime of an access token.")
    refresh_token_days: float = Field(14, gt=0, description="Lifetime of a refresh token.")
    clock_tolerance_seconds: int = Field(
        0, ge=0, le=3600, description="Leeway for clock skew when checking token times (e.g. 300)."
    )
    argon2_time_cost: int = Field(3, ge=1, description="argon2id iterations.")
    argon2_memory_kib: int = Field(65536, ge=8, description="argon2id memory in KiB.")
    argon2_parallelism: int = Field(4, ge=1, description="argon2id lanes.")
    permission_cache_seconds: float = Field(
        60, ge=0, description="How long a member's permissions are cached (changes refresh at once)."
    )


class QueueSettings(Section):
    name: str = Field("evidencehub", description="Queue name (Redis key prefix / SQLite queue).")
    consumer_threads: int = Field(2, ge=0, description="Worker threads inside `serve` (embedded queue).")
    socket_timeout_seconds: float = Field(2.0, gt=0, description="Redis connect/read timeout.")
    retries: int = Field(3, ge=0, description="Retries of a task that failed on a transient error.")
    retry_delay_seconds: float = Field(2.0, ge=0, description="First retry delay (doubles each time).")


class ReportSettings(Section):
    execution_timeout_seconds: float = Field(
        600, gt=0, description="An execution still processing after this is marked timed_out."
    )
    chromium_path: Path | None = Field(
        None, description="Chromium for PDF output (default: `chromium` on PATH, e.g. Debian's)."
    )
    pdf_timeout_seconds: float = Field(120, gt=0, description="Longest a PDF rendering may take.")
    queued_timeout_seconds: float = Field(
        3600, gt=0, description="An execution never picked up after this is marked failed."
    )


class OctaneSettings(Section):
    """ALM Octane: where it is, how to sign in, and how hard to push it ("Publishing to Octane")."""

    base_url: str = Field(
        "http://127.0.0.1:8090",
        description="Octane server URL (the default is the bundled emulator, `evidencehub emulate octane`).",
    )
    space_id: int = Field(1001, ge=1, description="Shared space id.")
    workspace_id: int = Field(1002, ge=1, description="Workspace id.")
    client_id: str | None = Field(None, description="API access key id (else read from credentials_path).")
    client_secret: SecretStr | None = Field(None, description="API access key secret.")
    credentials_path: str = Field(
        "/core/qzrelease/octane/S-{space_id}",
        description="Credentials file per space ({space_id} is filled in): client_id and client_secret.",
    )
    verify_tls: bool = Field(True, description="Verify the server's TLS certificate (off logs a warning).")
    ca_bundle: Path | None = Field(None, description="CA bundle (PEM) to verify the server with.")
    connect_timeout_seconds: float = Field(10.0, gt=0, description="TCP/TLS connect timeout.")
    read_timeout_seconds: float = Field(120.0, gt=0, description="Wait for a response this long.")
    max_runs_per_call: int = Field(1000, ge=1, le=1000, description="Test runs per upload (Octane: 1000).")
    workers: int = Field(5, ge=1, le=20, description="Slices converted and sent in parallel.")
    queue_limit: int = Field(50, ge=1, description="Our tasks queued at Octane never exceed this.")
    queue_full_retry_seconds: float = Field(
        10.0, gt=0, description="Wait after 'queue full' before retrying."
    )
    poll_interval_seconds: float = Field(2.0, gt=0, description="How often queued tasks are polled.")
    requests_per_second: float = Field(20.0, gt=0, description="Request rate cap (Octane recommends 20).")
    retry_max_attempts: int = Field(8, ge=1, description="Tries per request on 5xx, 429, timeouts.")
    backoff_initial_seconds: float = Field(1.0, gt=0, description="First backoff wait (doubles, jittered).")
    backoff_max_seconds: float = Field(60.0, gt=0, description="Longest backoff wait.")
    job_deadline_seconds: float = Field(6 * 3600.0, gt=0, description="A publish job gives up after this.")
    gzip: bool = Field(True, description="Compress uploads (Content-Encoding: gzip).")
    skip_errors: bool = Field(False, description="Octane skip-errors: ignore references to missing entities.")
    server_id: str = Field("evidencehub", min_length=1, description="CI server id in <build server_id>.")
    job_name: str = Field("{project}", description="Template of the CI job name: {project}, {build}.")
    build_name: str = Field("{build}", description="Template of the CI build name: {project}, {build}.")
    module: str | None = Field(None, description="XML 'module' of every run (default: the test's module).")
    release: str | None = Field(None, description="Release name for runs; default Octane's _default_.")
    application_module: str | None = Field(
        None, description="Application module (product area) under the root module to link tests to."
    )
    strict_modules: bool = Field(False, description="Fail instead of warning on duplicate root modules.")
    backlog_in_payload: bool = Field(
        False,
        description="Also name the backlog item in the XML (<backlog_items>); by default it is linked "
        "through covered_content after the upload, which keeps payloads (and their de-duplication) "
        "independent of the backlog item.",
    )
    test_fields: dict[str, str] = Field(
        default_factory=lambda: {"Test_Level": "Unit Test", "Test_Type": "Regression", "Framework": "JUnit"},
        description="Test_Level, Test_Type, Testing_Tool_Type, Framework values of every test.",
    )
    environment: dict[str, str] = Field(
        default_factory=dict, description="Environment taxonomies (type → value) for every run."
    )
    environment_taxonomy: str = Field(
        "Environment", min_length=1, description="Taxonomy type the run's environment is sent as."
    )
    max_error_kb: int = Field(64, ge=1, description="Stack trace kept per failed run in the upload.")


class PromotionSettings(Section):
    """Release promotions: the evidence job's name, where it publishes, and how it recovers."""

    job_name: str = Field(
        "evidence-{project}-{release}-{build}-p{promotion_id}",
        description="Name of a promotion's evidence job ({project}, {release}, {build}, {target}, "
        "{promotion_id}).",
    )
    default_target: str = Field("PROD", min_length=1, description="Target environment when none is given.")
    targets: list[str] = Field(
        default_factory=lambda: ["octane"],
        min_length=1,
        description="Publishing targets (publish registry names) of every promotion.",
    )
    project_targets: dict[str, list[str]] = Field(
        default_factory=dict, description="Publishing targets per project key, instead of `targets`."
    )
    heartbeat_seconds: float = Field(2.0, gt=0, description="How often a running job says it is alive.")
    stale_seconds: float = Field(
        300.0, gt=0, description="A job silent this long on another host is taken over by a new worker."
    )
    max_attempts: int = Field(
        10, ge=1, description="Runs of one promotion's job (crashes, transient errors) before it fails."
    )
    watch_interval_seconds: float = Field(2.0, gt=0, description="Refresh of a live `promote show`.")


class XraySettings(Section):
    """Jira Xray: Server/DC or Cloud, how to sign in, and how hard to push it ("Publishing to Xray")."""

    base_url: str = Field(
        "http://127.0.0.1:8091",
        description="Jira (Server/DC) or Xray Cloud URL (the default is `evidencehub emulate xray`).",
    )
    flavour: Literal["server", "cloud"] = Field(
        "server", description="server: /rest/raven/<api_version>/…; cloud: /api/v2/… with client id/secret."
    )
    api_version: Literal["1.0", "2.0"] = Field(
        "2.0", description="Server/DC REST version (raven 1.0 or 2.0)."
    )
    user: str | None = Field(None, description="Server/DC: Jira user for Basic auth.")
    password: SecretStr | None = Field(None, description="Server/DC: that user's password.")
    token: SecretStr | None = Field(None, description="Server/DC: personal access token (Bearer; wins).")
    client_id: str | None = Field(None, description="Cloud: API key client id.")
    client_secret: SecretStr | None = Field(None, description="Cloud: API key client secret.")
    credentials_path: Path | None = Field(
        None,
        description="File with user/password, token or client_id/client_secret (when settings hold none).",
    )
    verify_tls: bool = Field(True, description="Verify the server's TLS certificate (off logs a warning).")
    ca_bundle: Path | None = Field(None, description="CA bundle (PEM) to verify the server with.")
    connect_timeout_seconds: float = Field(10.0, gt=0, description="TCP/TLS connect timeout.")
    read_timeout_seconds: float = Field(120.0, gt=0, description="Wait for a response this long.")
    max_tests_per_import: int = Field(500, ge=1, description="Tests per import request (a slice).")
    max_request_kb: int = Field(
        20 * 1024, ge=16, description="Largest import body; evidence is dropped (with a warning) to fit."
    )
    max_evidence_kb: int = Field(
        256, ge=0, description="Largest evidence file (trace, stdout) attached per test run; 0: none."
    )
    attach_evidence: bool = Field(True, description="Attach the trace and stdout of failed tests.")
    workers: int = Field(2, ge=1, le=20, description="Slices converted and sent in parallel.")
    requests_per_window: int = Field(
        300, ge=1, description="Request budget per window (Cloud Standard: 300 per 5 minutes)."
    )
    window_seconds: float = Field(300.0, gt=0, description="Length of the rate-limit window.")
    retry_max_attempts: int = Field(8, ge=1, description="Tries per request on 5xx, 429, timeouts.")
    backoff_initial_seconds: float = Field(1.0, gt=0, description="First backoff wait (doubles, jittered).")
    backoff_max_seconds: float = Field(60.0, gt=0, description="Longest backoff wait.")
    job_deadline_seconds: float = Field(6 * 3600.0, gt=0, description="A publish job gives up after this.")
    project_key: str | None = Field(
        None, description="Jira project key of jobs whose parameters name none (promotions)."
    )
    project_keys: dict[str, str] = Field(
        default_factory=dict, description="Jira project key per evidencehub project, before project_key."
    )
    summary: str = Field(
        "{project} build {build}", description="Test Execution summary template: {project}, {build}."
    )
    environments: list[str] = Field(
        default_factory=list, description="Test environments of every execution (plus --environment)."
    )


class TriageSettings(Section):
    auto_on_ingest: bool = Field(True, description="Triage every run as soon as it is ingested.")
    rules_files: list[Path] = Field(
        default_factory=list, description="User rule files (YAML), tried in order before the built-in rules."
    )
    builtin_rules: bool = Field(True, description="Use the built-in knowledge base of rules.")
    similarity_threshold: float = Field(
        0.5, gt=0, le=1, description="History: least cosine similarity for a decided failure to count."
    )
    agreement_threshold: float = Field(
        0.7, gt=0, le=1, description="History: least weighted share of the neighbours agreeing on a category."
    )
    history_override_similarity: float = Field(
        0.8, gt=0, le=1, description="History at this similarity or above wins over the built-in rules."
    )
    neighbours: int = Field(5, ge=1, le=50, description="History: decided failures compared per failure.")
    same_test_boost: float = Field(
        0.1, ge=0, le=1, description="History: similarity added when the decided failure is of the same test."
    )
    max_query_terms: int = Field(
        0, ge=0, description="History: compare only a failure's heaviest terms (faster); 0 = all terms."
    )
    cluster_similarity: float = Field(
        0.9, gt=0, le=1, description="Merge a new error into an existing cluster at this similarity or above."
    )
    flaky_window: int = Field(
        10, ge=2, le=200, description="Runs (same branch and environment) checked for flips."
    )
    flaky_min_flips: int = Field(2, ge=1, description="Pass/fail flips in the window that make a test flaky.")
    count_flaky_as_product_bugs: bool = Field(
        False, description="Count flaky failures in the product-bug total of a summary."
    )
    batch_size: int = Field(2000, ge=1, description="Failures analysed and written per batch.")
    index_cache_projects: int = Field(
        8, ge=0, description="Learned indexes kept in memory (one per project)."
    )


class AuditSettings(Section):
    rubric: Path | None = Field(
        None, description="Completeness rubric YAML; default: the built-in Xray rubric."
    )
    jira_field_names: dict[str, str] = Field(
        default_factory=dict,
        description="Jira field ids → names (customfield_10200: Test Type) for exports without expand=names.",
    )
    max_file_mb: int = Field(64, ge=1, description="Largest test-case source file read by the audit.")


class LandingZoneSettings(Section):
    """Where evidence bundles land: options of the fsspec filesystem behind ``landing_zone_url``."""

    s3_endpoint_url: str | None = Field(None, description="S3: endpoint (MinIO, Ceph, a test server).")
    s3_region: str | None = Field(None, description="S3: region name.")
    s3_access_key_id: SecretStr | None = Field(None, description="S3: access key id (else the AWS chain).")
    s3_secret_access_key: SecretStr | None = Field(None, description="S3: secret access key.")
    s3_session_token: SecretStr | None = Field(None, description="S3: session token (temporary keys).")
    verify_tls: bool = Field(True, description="Verify the endpoint's TLS certificate.")
    storage_options: dict[str, str] = Field(
        default_factory=dict, description="Extra fsspec options for other URL schemes (gcs://, az://…)."
    )
    max_file_mb: int = Field(4096, ge=1, description="Largest single file of a bundle.")
    max_bundle_mb: int = Field(16384, ge=1, description="Largest bundle (all files together).")
    stale_staging_hours: float = Field(
        24, gt=0, description="Staging left this long by a bundle never retried is removed by the next write."
    )


class BundleSettings(Section):
    report_max_failures: int = Field(
        5000, ge=1, description="Failures listed in a bundle's HTML report (all are in the JSON Lines)."
    )
    export_batch_size: int = Field(5000, ge=1, description="Results read from the database per batch.")


class LogSettings(Section):
    level: Literal["debug", "info", "warning", "error"] = "info"
    format: Literal["console", "json"] = "console"


class Settings(BaseSettings):
    """Effective configuration. Build it with :func:`load_settings`."""

    model_config = SettingsConfigDict(
        env_prefix=ENV_PREFIX,
        env_nested_delimiter="__",
        extra="forbid",
        validate_default=True,
    )

    env: str = Field(DEFAULT_ENVIRONMENT, description="Named environment chosen from the config file.")
    config_file: Path | None = Field(None, description="YAML config file with named environments.")
    data_dir: Path = Field(default_factory=default_data_dir, description="Where local state lives.")
    database_url: SecretStr | None = Field(
        None,
        description="SQLAlchemy URL; default is SQLite in the data dir (postgresql+psycopg://… at scale).",
    )
    queue_url: SecretStr | None = Field(None, description="Task queue; default huey on SQLite, or redis://…")
    default_organization: str = Field("default", description="Organization used by the CLI.")
    landing_zone_url: str | None = Field(
        None,
        description="fsspec URL evidence bundles are written under (default file://<data_dir>/landing-zone).",
    )
    database: DatabaseSettings = Field(default_factory=DatabaseSettings)
    ingest: IngestSettings = Field(default_factory=IngestSettings)
    log: LogSettings = Field(default_factory=LogSettings)
    web: WebSettings = Field(default_factory=WebSettings)
    auth: AuthSettings = Field(default_factory=AuthSettings)
    queue: QueueSettings = Field(default_factory=QueueSettings)
    reports: ReportSettings = Field(default_factory=ReportSettings)
    octane: OctaneSettings = Field(default_factory=OctaneSettings)
    xray: XraySettings = Field(default_factory=XraySettings)
    triage: TriageSettings = Field(default_factory=TriageSettings)
    promotions: PromotionSettings = Field(default_factory=PromotionSettings)
    audit: AuditSettings = Field(default_factory=AuditSettings)
    landing_zone: LandingZoneSettings = Field(default_factory=LandingZoneSettings)
    bundle: BundleSettings = Field(default_factory=BundleSettings)

    @property
    def sqlite_path(self) -> Path:
        return self.data_dir / "evidencehub.db"

    def effective_landing_zone_url(self) -> str:
        return self.landing_zone_url or (self.data_dir / "landing-zone").resolve().as_uri()

    def effective_database_url(self) -> str:
        if self.database_url is not None:
            return self.database_url.get_secret_value()
        return f"sqlite:///{self.sqlite_path}"

    def redacted(self) -> dict[str, Any]:
        """The settings as plain data with every secret and URL password masked."""
        redacted: dict[str, Any] = _redact(self.model_dump(mode="python"))
        return redacted

    @classmethod
    def settings_customise_sources(
        cls,
        settings_cls: type[BaseSettings],
        init_settings: PydanticBaseSettingsSource,
        env_settings: PydanticBaseSettingsSource,
        dotenv_settings: PydanticBaseSettingsSource,
        file_secret_settings: PydanticBaseSettingsSource,
    ) -> tuple[PydanticBaseSettingsSource, ...]:
        return (init_settings, env_settings, _YamlLayerSource(settings_cls))


# The YAML layer chosen by load_settings() while it constructs Settings.
_EMPTY_LAYER: Mapping[str, Any] = MappingProxyType({})
_yaml_layer: ContextVar[Mapping[str, Any]] = ContextVar("evidencehub_yaml_layer", default=_EMPTY_LAYER)


class _YamlLayerSource(PydanticBaseSettingsSource):
    def get_field_value(self, field: FieldInfo, field_name: str) -> tuple[Any, str, bool]:
        return _yaml_layer.get().get(field_name), field_name, False

    def __call__(self) -> dict[str, Any]:
        return dict(_yaml_layer.get())


@contextmanager
def _using_yaml_layer(layer: Mapping[str, Any]) -> Iterator[None]:
    token = _yaml_layer.set(layer)
    try:
        yield
    finally:
        _yaml_layer.reset(token)


def _deep_merge(base: Mapping[str, Any], top: Mapping[str, Any]) -> dict[str, Any]:
    merged = dict(base)
    for key, value in top.items():
        if isinstance(value, Mapping) and isinstance(merged.get(key), Mapping):
            merged[key] = _deep_merge(merged[key], value)
        else:
            merged[key] = value
    return merged


def _read_config_file(path: Path) -> dict[str, Any]:
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as exc:
        raise ConfigError(
            f"cannot read config file {path}: {exc.strerror}", details={"file": str(path)}
        ) from exc
    try:
        data = yaml.safe_load(text) or {}
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f" line {mark.line + 1}" if mark is not None else ""
        raise ConfigError(
            f"config file {path}{where} is not valid YAML: {exc}", details={"file": str(path)}
        ) from exc
    if not isinstance(data, dict):
        raise ConfigError(f"config file {path} must hold a mapping with 'defaults' and 'environments'")
    unknown = set(data) - {"defaults", "environments"}
    if unknown:
        raise ConfigError(
            f"config file {path}: unknown top-level key(s) {sorted(unknown)}; "
            "expected 'defaults' and 'environments'",
            details={"file": str(path)},
        )
    for section in ("defaults", "environments"):
        if not isinstance(data.get(section) or {}, dict):
            raise ConfigError(f"config file {path}: '{section}' must be a mapping")
    return data


def _find_config_file(explicit: Path | None) -> Path | None:
    if explicit is not None:
        return explicit
    from_env = os.environ.get(f"{ENV_PREFIX}CONFIG_FILE") or os.environ.get(f"{ENV_PREFIX}CONFIG")
    if from_env:
        return Path(from_env)
    return next((candidate for candidate in default_config_candidates() if candidate.is_file()), None)


def known_environments(config: Mapping[str, Any]) -> list[str]:
    names = set((config.get("environments") or {}).keys())
    names.add(DEFAULT_ENVIRONMENT)
    return sorted(names)


def load_settings(
    env: str | None = None,
    config_file: Path | None = None,
    **overrides: Any,
) -> Settings:
    """Build the effective settings.

    Raises ConfigError when the config file is unreadable, the environment is
    unknown (listing the known ones) or a value is invalid (naming the field).
    """
    path = _find_config_file(config_file)
    config = _read_config_file(path) if path is not None else {}
    chosen = env or os.environ.get(f"{ENV_PREFIX}ENV") or DEFAULT_ENVIRONMENT
    environments: dict[str, Any] = config.get("environments") or {}
    if chosen not in environments and chosen != DEFAULT_ENVIRONMENT:
        where = f"in {path}" if path is not None else "(no config file found)"
        raise ConfigError(
            f"unknown environment '{chosen}' {where}; "
            f"known environments: {', '.join(known_environments(config))}",
            details={"environment": chosen, "known": known_environments(config)},
        )
    layer = _deep_merge(config.get("defaults") or {}, environments.get(chosen) or {})
    layer["env"] = chosen
    if path is not None:
        layer["config_file"] = path
    init = {key: value for key, value in overrides.items() if value is not None}
    init.setdefault("env", chosen)
    try:
        with _using_yaml_layer(layer):
            return Settings(**init)
    except ValidationError as exc:
        problems = "; ".join(
            f"{'.'.join(str(part) for part in error['loc'])}: {error['msg']}" for error in exc.errors()
        )
        source = f" (config file {path}, environment '{chosen}', or EVIDENCEHUB_* variables)" if path else ""
        raise ConfigError(f"invalid settings{source}: {problems}") from None


def mask_url_password(url: str) -> str:
    """``postgresql://user:pw@host/db`` → ``postgresql://user:**********@host/db``."""
    try:
        parts = urlsplit(url)
    except ValueError:
        return MASK
    if parts.password is None:
        return url
    netloc = parts.netloc.rsplit("@", 1)
    userinfo = netloc[0].split(":", 1)[0]
    return urlunsplit(parts._replace(netloc=f"{userinfo}:{MASK}@{netloc[1]}"))


def _redact(value: Any) -> Any:
    if isinstance(value, SecretStr):
        secret = value.get_secret_value()
        return mask_url_password(secret) if "://" in secret else MASK
    if isinstance(value, dict):
        return {key: _redact(item) for key, item in value.items()}
    if isinstance(value, list | tuple):
        return [_redact(item) for item in value]
    if isinstance(value, Path):
        return str(value)
    return value
