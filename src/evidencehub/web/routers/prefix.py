"""The prefix of the versioned API."""

API_PREFIX = "/api/v1"
