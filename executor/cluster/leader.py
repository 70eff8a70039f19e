"""Leader election on a coordination.k8s.io/v1 Lease, for a hot standby controller.

The rules are client-go's: a candidate takes the Lease when it is free or its holder has not renewed it for
`leaseDurationSeconds`; the leader renews every `renew_every` seconds and steps down (stops its workers) if
it cannot renew within the lease duration. Writes carry the Lease's resourceVersion, so two candidates can
never both win: the loser gets 409 Conflict. Written here rather than using kubernetes.leaderelection because
that module blocks with sleeps, has no stop signal and uses the global client configuration.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import Any

from executor.cluster.kube import LEASES, AlreadyExists, ApiError, Conflict, Kube, TransientError
from executor.status import parse_time

log = logging.getLogger("trellis.leader")


def _micro_time(dt: datetime) -> str:
    return dt.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def lease_is_free(lease: dict[str, Any], identity: str, now: datetime) -> bool:
    """Pure: may `identity` take or keep this Lease at `now`?"""
    spec = lease.get("spec") or {}
    holder = spec.get("holderIdentity") or ""
    if not holder or holder == identity:
        return True
    renewed = parse_time(spec.get("renewTime")) or parse_time(spec.get("acquireTime"))
    duration = int(spec.get("leaseDurationSeconds") or 15)
    return renewed is None or renewed + timedelta(seconds=duration) < now


class LeaderElector:
    def __init__(
        self,
        kube: Kube,
        *,
        namespace: str,
        name: str,
        identity: str,
        lease_seconds: int = 15,
        renew_every: float = 5.0,
        clock: Callable[[], datetime] = lambda: datetime.now(UTC),
    ) -> None:
        self.kube, self.namespace, self.name, self.identity = kube, namespace, name, identity
        self.lease_seconds, self.renew_every, self.clock = lease_seconds, renew_every, clock
        self.leading = threading.Event()

    def try_acquire_or_renew(self) -> bool:
        now = self.clock()
        try:
            lease = self.kube.get(LEASES, self.namespace, self.name)
            if lease is None:
                body = {
                    "apiVersion": "coordination.k8s.io/v1",
                    "kind": "Lease",
                    "metadata": {"name": self.name, "namespace": self.namespace},
                    "spec": self._spec(now, transitions=0, acquired=now),
                }
                self.kube.create(LEASES, self.namespace, body)
                return True
            if not lease_is_free(lease, self.identity, now):
                return False
            spec = lease.get("spec") or {}
            mine = spec.get("holderIdentity") == self.identity
            transitions = int(spec.get("leaseTransitions") or 0) + (0 if mine else 1)
            acquired = parse_time(spec.get("acquireTime")) if mine else now
            lease["spec"] = self._spec(now, transitions=transitions, acquired=acquired or now)
            self.kube.replace(LEASES, self.namespace, self.name, lease)
            return True
        except (AlreadyExists, Conflict):
            return False  # someone else wrote first; they lead
        except (ApiError, TransientError) as exc:
            log.warning("lease %s/%s: %s; will try again in %.1fs", self.namespace, self.name, exc, self.renew_every)
            return False

    def _spec(self, now: datetime, *, transitions: int, acquired: datetime) -> dict[str, Any]:
        return {
            "holderIdentity": self.identity,
            "leaseDurationSeconds": self.lease_seconds,
            "acquireTime": _micro_time(acquired),
            "renewTime": _micro_time(now),
            "leaseTransitions": transitions,
        }

    def run(self, stop: threading.Event, on_change: Callable[[bool], None]) -> None:
        """Loop until `stop`: acquire, renew, and call on_change(True/False) when leadership changes."""
        last_renew: datetime | None = None
        while not stop.is_set():
            ok = self.try_acquire_or_renew()
            now = self.clock()
            if ok:
                last_renew = now
                if not self.leading.is_set():
                    log.info("became leader (%s); starting workers", self.identity)
                    self.leading.set()
                    on_change(True)
            elif self.leading.is_set() and (
                last_renew is None or now - last_renew > timedelta(seconds=self.lease_seconds)
            ):
                log.warning("lost the lease (%s); stopping workers until re-elected", self.identity)
                self.leading.clear()
                on_change(False)
            stop.wait(self.renew_every)
        if self.leading.is_set():
            self.release()

    def release(self) -> None:
        """Give the Lease up on clean shutdown so the standby takes over at once."""
        try:
            lease = self.kube.get(LEASES, self.namespace, self.name)
            if lease and (lease.get("spec") or {}).get("holderIdentity") == self.identity:
                lease["spec"]["holderIdentity"] = ""
                self.kube.replace(LEASES, self.namespace, self.name, lease)
        except (ApiError, TransientError) as exc:
            log.warning("could not release the lease: %s", exc)
        self.leading.clear()
