"""Outbound HTTP for every remote: one client factory, one rate limiter, one retry policy."""
