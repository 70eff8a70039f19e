"""The CronWorkflow shell: apply executor.scheduling.decide() to the cluster.

Create the due child (AlreadyExists = this scheduled time already fired, e.g. before a restart), stop children
a `Replace` policy displaces (spec.shutdown=Terminate, as Argo does), delete children beyond the history
limits, and write the CronWorkflow's status (`active`, `lastScheduledTime`, `conditions`, counts).
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from executor.cluster.kube import CRON_WORKFLOWS, WORKFLOWS, AlreadyExists, ApiError, Kube
from executor.scheduling import CRON_LABEL, decide

log = logging.getLogger("trellis.cron")


@dataclass
class CronPassResult:
    created: str = ""
    requeue_after: float | None = None


class CronReconciler:
    def __init__(self, kube: Kube, *, clock: Callable[[], datetime] = lambda: datetime.now(UTC)) -> None:
        self.kube = kube
        self.clock = clock

    def reconcile(self, namespace: str, name: str) -> CronPassResult:
        result = CronPassResult()
        cron = self.kube.get(CRON_WORKFLOWS, namespace, name)
        if cron is None:
            return result
        now = self.clock()
        children = self.kube.list(WORKFLOWS, namespace, label_selector=f"{CRON_LABEL}={name}").get("items") or []
        decision = decide(cron, children, now)
        status = dict(decision.status)
        conditions: list[dict[str, Any]] = []
        for child in decision.stop:
            self.kube.patch(WORKFLOWS, namespace, child, {"spec": {"shutdown": "Terminate"}})
            log.info("cron %s/%s: terminating %s (concurrencyPolicy Replace)", namespace, name, child)
        if decision.create is not None:
            child_name = decision.create["metadata"]["name"]
            try:
                self.kube.create(WORKFLOWS, namespace, decision.create)
                result.created = child_name
                status["active"] = [
                    *status.get("active", []),
                    {
                        "apiVersion": "argoproj.io/v1alpha1",
                        "kind": "Workflow",
                        "name": child_name,
                        "namespace": namespace,
                    },
                ]
                log.info("cron %s/%s: started %s", namespace, name, child_name)
            except AlreadyExists:
                log.info("cron %s/%s: %s already exists; this schedule already fired", namespace, name, child_name)
            except ApiError as exc:
                conditions.append(
                    {"type": "SubmissionError", "status": "True", "message": f"failed to create {child_name}: {exc}"}
                )
        elif decision.skipped_reason:
            log.info("cron %s/%s: %s", namespace, name, decision.skipped_reason)
        for old in decision.delete:
            self.kube.delete(WORKFLOWS, namespace, old)
        status["conditions"] = conditions
        if status != (cron.get("status") or {}):
            cron["status"] = status
            try:
                self.kube.replace(CRON_WORKFLOWS, namespace, name, cron, subresource="status")
            except ApiError as exc:
                if exc.status != 404:
                    raise
                self.kube.replace(CRON_WORKFLOWS, namespace, name, cron)  # CRD without a status subresource
        if decision.next_time is not None:
            result.requeue_after = max(0.0, (decision.next_time - now).total_seconds())
        return result
