"""Retries (pure): Argo's Retry node, attempts `name(i)`, retryPolicy, backoff, expression."""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime
from typing import Any

from executor.contract import InputArtifact
from executor.planning import expr
from executor.planning.core import Opts, PassCore, Resolved
from executor.planning.durations import humanize, parse_duration
from executor.planning.helpers import (
    go_time,
    is_transient,
    layered,
    to_int,
)
from executor.status import (
    NodeStatus,
    is_failed,
    is_fulfilled,
    parse_time,
)


class RetryMixin(PassCore):
    def execute_retry(
        self,
        node_name: str,
        resolved: Resolved,
        params: dict[str, str],
        artifacts: list[InputArtifact],
        strategy: Mapping[str, Any],
        opts: Opts,
        holder: Mapping[str, Any],
        flag: Mapping[str, bool] | None,
    ) -> NodeStatus | None:
        template_name = str(resolved.template.get("name") or holder.get("template") or "")
        retry = self.get(node_name)
        if retry is None:
            retry = self.init_node(
                node_name,
                "Retry",
                "Running",
                opts,
                template_name=template_name,
                template_ref=holder.get("templateRef"),
                scope=resolved.scope,
                flag=flag,
            )
        children = [self.nodes[c] for c in retry.get("children") or [] if c in self.nodes]
        attempts = [c for c in children if (c.get("nodeFlag") or {}).get("retried")]
        last = attempts[-1] if attempts else None
        if last is not None and not is_fulfilled(last.get("phase")):
            self.run_attempt(retry, len(attempts) - 1, resolved, params, artifacts, opts, holder)
            last = self.get(last["name"])
            if last is None or not is_fulfilled(last.get("phase")):
                self.sync_retry_daemon(retry)
                return retry
        if last is not None and is_fulfilled(last.get("phase")):
            if not is_failed(last.get("phase")):
                if last.get("outputs"):
                    retry["outputs"] = last["outputs"]
                return self.mark(retry, str(last.get("phase")), "")
            decision = self.retry_decision(retry, attempts, last, strategy, params)
            if decision is not None:
                phase, message = decision
                if phase in ("Running",):
                    retry["message"] = message
                    return retry
                if last.get("outputs"):
                    retry["outputs"] = last["outputs"]
                return self.mark(retry, phase, message)
        self.run_attempt(retry, len(attempts), resolved, params, artifacts, opts, holder)
        self.sync_retry_daemon(retry)
        return retry

    def run_attempt(
        self,
        retry: NodeStatus,
        attempt: int,
        resolved: Resolved,
        params: dict[str, str],
        artifacts: list[InputArtifact],
        opts: Opts,
        holder: Mapping[str, Any],
    ) -> NodeStatus | None:
        child_name = f"{retry['name']}({attempt})"
        child_opts = Opts(opts.boundary_id, opts.boundary_name, opts.on_exit, parent_id=retry["id"])
        retry.pop("message", None)
        return self.execute_kind(
            child_name, resolved, params, artifacts, child_opts, holder, flag={"retried": True}, retries=attempt
        )

    def retry_decision(
        self,
        retry: NodeStatus,
        attempts: list[NodeStatus],
        last: NodeStatus,
        strategy: Mapping[str, Any],
        params: Mapping[str, str] | None = None,
    ) -> tuple[str, str] | None:
        """None: start the next attempt now. Else (phase, message): Running = wait (backoff), or the final phase."""
        last_phase = str(last.get("phase"))
        last_message = str(last.get("message") or "")
        if self.shutdown:
            return last_phase, f"Stopped with strategy '{self.shutdown}'"
        if self.deadline is not None and self.now >= self.deadline:
            return last_phase, f"retry exceeded workflow deadline {go_time(self.deadline)}"
        backoff = strategy.get("backoff") or {}
        if backoff:
            max_deadline: datetime | None = None
            if backoff.get("maxDuration"):
                first_start = parse_time(attempts[0].get("startedAt")) or self.now
                max_deadline = first_start + parse_duration(str(backoff["maxDuration"]))
                if self.now > max_deadline:
                    return last_phase, "Max duration limit exceeded"
            if not backoff.get("duration"):
                return "Error", "no base duration specified for retryStrategy"
            wait = parse_duration(str(backoff["duration"]))
            factor = backoff.get("factor")
            if factor is not None:
                factor_value = float(to_int(factor, "retryStrategy.backoff.factor"))
                if factor_value > 0:
                    wait = wait * (factor_value ** (len(attempts) - 1))
            if backoff.get("cap"):
                wait = min(wait, parse_duration(str(backoff["cap"])))
            finished = parse_time(last.get("finishedAt")) or self.now
            resume_at = finished + wait
            if max_deadline is not None and resume_at > max_deadline:
                return last_phase, "Backoff would exceed max duration limit"
            limit = strategy.get("limit")
            within_limit = limit is None or len(attempts) <= to_int(limit, "retryStrategy.limit")
            if self.now < resume_at and within_limit:
                self.timer(resume_at)
                return "Running", f"Backoff for {humanize(wait)}"
        policy = str(strategy.get("retryPolicy") or "OnFailure")
        if policy == "Always":
            on_failed = on_error = True
        elif policy == "OnError":
            on_failed, on_error = False, True
        elif policy == "OnFailure":
            on_failed, on_error = True, False
        elif policy == "OnTransientError":
            on_failed = on_error = is_transient(last_message)
        else:
            return "Error", f"{policy} is not a valid RetryPolicy"
        if (last_phase == "Failed" and not on_failed) or (last_phase == "Error" and not on_error):
            return last_phase, last_message
        limit = strategy.get("limit")
        if limit is not None and len(attempts) > to_int(limit, "retryStrategy.limit"):
            return last_phase, "No more retries left"
        expression = strategy.get("expression")
        if expression:
            outputs = last.get("outputs") or {}
            started = parse_time(last.get("startedAt")) or self.now
            finished = parse_time(last.get("finishedAt")) or self.now
            env = {
                "lastRetry.exitCode": str(outputs.get("exitCode", "0")),
                "lastRetry.status": last_phase,
                "lastRetry.duration": str((finished - started).total_seconds()),
                "lastRetry.message": last_message,
                # the template's inputs, as `{{inputs.parameters.x}}` in the expression (retry-conditional.yaml)
                **{f"inputs.parameters.{k}": v for k, v in (params or {}).items()},
            }
            try:
                proceed = expr.evaluate_bool(str(expression), layered(env, self.globals))
            except expr.ExpressionFailed as exc:
                return "Error", str(exc)
            if not proceed:
                return last_phase, "retryStrategy.expression evaluated to false"
        return None
