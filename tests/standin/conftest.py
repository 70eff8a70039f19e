"""Fixtures for the stand-in's own tests."""

from tests.standin.fixture import kube, kube_client

__all__ = ["kube", "kube_client"]
