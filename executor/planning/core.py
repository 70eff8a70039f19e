"""The planning pass's core (pure): state, status assembly, template resolution, inputs and Pod nodes.

`PassCore` holds one pass's state and everything shared; steps.py, dag.py and retry.py add the template kinds as
mixins, and engine.py composes them into the pass that `plan()` runs. See engine.py for the invariants.
"""

from __future__ import annotations

import contextlib
import json
import math
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any, cast

from executor import templating
from executor.contract import (
    Action,
    ArtifactLocation,
    CreateJob,
    DeleteJob,
    InputArtifact,
    JobObservation,
    Observed,
    PlanContext,
    RecordEvent,
    RequeueAt,
    StepSpec,
    UpdateStatus,
)
from executor.jobspec import claim_volumes
from executor.planning import configmaps, expr
from executor.planning.depends import DependsError
from executor.planning.durations import DurationError, parse_duration
from executor.planning.helpers import (
    ARTIFACT_REF,
    UNSUPPORTED_ARTIFACTS,
    PlanError,
    is_daemoned,
    json_value_list,
    layered,
    loop_index,
    merge_defaults,
    node_inputs,
    sequence_items,
    settled,
    suspend_outputs,
    templates_by_name,
    to_int,
    to_str,
    uses_timeouts,
    with_sub_path,
)
from executor.status import (
    NodeOutputs,
    NodeStatus,
    compact_node,
    conditions,
    display_name,
    format_time,
    is_failed,
    is_fulfilled,
    node_id,
    nodes_of,
    pack_nodes,
    parse_time,
    progress,
)
from webhook.semantics.context import ValidationContext
from webhook.validation import validate

Expand = Callable[..., Mapping[str, Any]]
Scope = Mapping[str, str]

MAX_NEW_NODES_PER_PASS = 25_000  # template nodes created in one pass at most; the rest wait for the next pass
MAX_DEPTH = 100  # nested template calls per branch (Argo's default maxStackDepth is 150; Python's stack is smaller)
_SHUTDOWN_STRATEGIES = ("Stop", "Terminate")
# Argo v3.6+ (assessNodeStatus): a daemon pod that succeeds is failed, "since daemon pods should run indefinitely".
DAEMON_EXITED = "daemon exited before its scope ended (exit code 0); a daemon must keep running"


@dataclass(frozen=True)
class TemplateScope:
    """Where template names resolve: the workflow itself, a WorkflowTemplate or a ClusterWorkflowTemplate."""

    kind: str  # "local" | "namespaced" | "cluster"
    name: str
    templates: Mapping[str, Mapping[str, Any]]

    @property
    def label(self) -> str:
        return f"{self.kind}/{self.name}"


@dataclass(frozen=True)
class Opts:
    boundary_id: str
    boundary_name: str | None
    on_exit: bool = False
    parent_id: str = ""  # the node to link a newly created node under ("" = none)


@dataclass
class Resolved:
    template: Mapping[str, Any]
    scope: TemplateScope
    template_ref: Mapping[str, Any] | None


@dataclass
class PassCore:
    workflow: Mapping[str, Any]
    observed: Observed
    now: datetime
    context: PlanContext
    expand: Expand
    job_name: Callable[[str, str], str]
    nodes: dict[str, NodeStatus] = field(default_factory=dict)
    creates: list[CreateJob] = field(default_factory=list)
    deletes: list[DeleteJob] = field(default_factory=list)
    timers: list[datetime] = field(default_factory=list)
    active_pods: int = 0
    new_pods: int = 0

    # --- setup -------------------------------------------------------------------------------------------------

    def __post_init__(self) -> None:
        metadata = self.workflow.get("metadata") or {}
        self.name: str = str(metadata.get("name") or "workflow")
        self.namespace: str = str(metadata.get("namespace") or "")
        self.status_in: Mapping[str, Any] = self.workflow.get("status") or {}
        self.nodes = {key: cast(NodeStatus, dict(value)) for key, value in nodes_of(self.status_in).items()}
        self._ids: dict[str, str] = {}
        self._owned: set[str] = set()
        self.now_text = format_time(self.now)
        self.has_timeouts = False
        self.depth = 0
        self.created_nodes = 0
        self.stored_workflow_template_spec: Mapping[str, Any] = {}
        self.global_artifacts: dict[str, Mapping[str, Any]] = {
            f"workflow.outputs.artifacts.{a.get('name')}": a
            for a in (self.status_in.get("outputs") or {}).get("artifacts") or []
        }
        self.old_phases: dict[str, str] = {k: str(v.get("phase")) for k, v in self.nodes.items()}
        self.spec: Mapping[str, Any] = {}
        self.started_at = parse_time(self.status_in.get("startedAt")) or self.now
        self.deadline: datetime | None = None
        self.shutdown = ""
        self.globals: dict[str, str] = {}
        self.stored_templates: dict[str, Any] = dict(self.status_in.get("storedTemplates") or {})
        self.daemoned_ids: set[str] = set()
        for nid, node in self.nodes.items():
            if node.get("type") == "Pod" and not settled(node):
                self.active_pods += 1  # a daemoned pod no longer counts (Argo's countActivePods: not Fulfilled)
            if is_daemoned(node):
                self.daemoned_ids.add(nid)

    def id_of(self, node_name: str) -> str:
        found = self._ids.get(node_name)
        if found is None:
            found = node_id(self.name, node_name)
            self._ids[node_name] = found
        return found

    def get(self, node_name: str) -> NodeStatus | None:
        return self.nodes.get(self.id_of(node_name))

    # --- node records ------------------------------------------------------------------------------------------

    def init_node(
        self,
        node_name: str,
        node_type: str,
        phase: str,
        opts: Opts,
        *,
        template_name: str = "",
        template_ref: Mapping[str, Any] | None = None,
        scope: TemplateScope | None = None,
        message: str = "",
        flag: Mapping[str, bool] | None = None,
    ) -> NodeStatus:
        nid = self.id_of(node_name)
        record: dict[str, Any] = {
            "id": nid,
            "name": node_name,
            "displayName": display_name(node_name, opts.boundary_name),
            "type": node_type,
            "templateName": template_name,
            "phase": phase,
            "boundaryID": opts.boundary_id,
            "startedAt": self.now_text,
            "message": message,
        }
        if template_ref:
            record["templateRef"] = dict(template_ref)
        if scope is not None and scope.kind != "local":
            record["templateScope"] = scope.label
        if flag:
            record["nodeFlag"] = dict(flag)
        if node_type == "Pod":
            record["progress"] = "0/1"
        if is_fulfilled(phase):
            record["finishedAt"] = record["startedAt"]
            if node_type == "Pod":
                record["progress"] = "1/1" if phase in ("Succeeded", "Skipped", "Omitted") else "0/1"
        node = compact_node(record)
        self.nodes[nid] = node
        self.created_nodes += 1
        if opts.parent_id:
            self.add_child(opts.parent_id, nid)
        return node

    def add_child(self, parent_id: str, child_id: str) -> None:
        parent = self.nodes.get(parent_id)
        if parent is None:
            return
        children = parent.get("children")
        if children is None:
            parent["children"] = [child_id]
            self._owned.add(parent_id)
            return
        if children[-1:] == [child_id]:
            return
        if parent_id not in self._owned:
            # The list may be shared with the input status: copy once per pass, then append in place (linear).
            children = list(children)
            parent["children"] = children
            self._owned.add(parent_id)
        children.append(child_id)

    def mark(self, node: NodeStatus, phase: str, message: str | None = None) -> NodeStatus:
        """Set a node's phase (and message when given); stamps finishedAt when it becomes fulfilled."""
        node["phase"] = phase  # type: ignore[typeddict-item]
        if message is not None:
            if message:
                node["message"] = message
            else:
                node.pop("message", None)
        if is_fulfilled(phase) and not node.get("finishedAt"):
            node["finishedAt"] = self.now_text
        if is_fulfilled(phase) and is_daemoned(node):
            self.undaemon(node)
        if node.get("type") == "Pod":
            node["progress"] = "1/1" if phase in ("Succeeded", "Skipped", "Omitted") else "0/1"
        return node

    def timer(self, when: datetime) -> None:
        if when > self.now:
            self.timers.append(when)

    # --- the pass ----------------------------------------------------------------------------------------------

    def run(self) -> list[Action]:
        phase_in = self.status_in.get("phase")
        if phase_in in ("Succeeded", "Failed", "Error"):
            return []
        if not phase_in:
            invalid = self.validation_message()
            if invalid:
                return self.finish_invalid(invalid, phase="Failed")
        try:
            self.spec = self.effective_spec()
            self.step_workflow = self.workflow
            if self.spec is not self.workflow.get("spec"):
                self.step_workflow = {**self.workflow, "spec": self.spec}
            self.local_scope = TemplateScope("local", self.name, templates_by_name(self.spec.get("templates")))
            self.has_timeouts = uses_timeouts(self.spec, self.context)
            self.shutdown = str(self.spec.get("shutdown") or "")
            if self.shutdown and self.shutdown not in _SHUTDOWN_STRATEGIES:
                raise PlanError(f"spec.shutdown: unknown strategy '{self.shutdown}'; use Stop or Terminate")
            ads = self.spec.get("activeDeadlineSeconds")
            if ads is not None:
                self.deadline = self.started_at + timedelta(seconds=to_int(ads, "spec.activeDeadlineSeconds"))
            self.globals = self.global_scope()
            entry = self.spec.get("entrypoint")
            if not entry:
                raise PlanError("spec.entrypoint is not set; name the template to start with")
        except PlanError as exc:
            return self.finish_invalid(str(exc))
        self.check_daemons()
        return self.run_tree(str(entry))

    def validation_message(self) -> str:
        """Argo's one-time validation before the first pass ("invalid spec: ..."), with the validator `trellis
        lint` and the webhook use: an object admitted while the webhook was absent fails with its field errors."""
        result = validate(self.workflow, context=ValidationContext(manifests=self.context.templates))
        # "Not supported" is the planner's call: it reports what it cannot run on the node that needs it.
        errors = [error for error in result.errors if "not supported" not in error.message]
        if not errors:
            return ""
        shown = "; ".join(str(error) for error in errors[:3])
        more = f" (and {len(errors) - 3} more)" if len(errors) > 3 else ""
        return f"invalid spec: {shown}{more}"

    def finish_invalid(self, message: str, *, phase: str = "Error") -> list[Action]:
        status: dict[str, Any] = dict(self.status_in)
        status["phase"] = phase
        status["message"] = message
        status.setdefault("startedAt", self.now_text)
        status["finishedAt"] = self.now_text
        status["progress"] = progress(self.nodes.values())
        status["conditions"] = conditions(completed=True, pod_running=False)
        pack_nodes(status, self.nodes)
        return [UpdateStatus(status), RecordEvent("WorkflowFailed", message, "Warning")]

    def run_tree(self, entry: str) -> list[Action]:
        root_opts = Opts(boundary_id="", boundary_name=None)
        root = self.get(self.name)
        stop_before_start = root is None and self.shutdown
        if not stop_before_start:
            root = self.execute(
                self.name, {"template": entry}, self.spec.get("arguments") or {}, self.local_scope, root_opts
            )
        if self.deadline is not None:
            self.timer(self.deadline)
        hooks_running = self.run_workflow_hooks(root)

        phase, message = "Running", ""
        exit_node: NodeStatus | None = None
        if stop_before_start:
            phase, message = "Failed", f"Stopped with strategy '{self.shutdown}'"
        elif root is not None and settled(root) and not hooks_running:
            wf_phase = {"Failed": "Failed", "Error": "Error"}.get(str(root.get("phase")), "Succeeded")
            exit_done = True
            on_exit = self.spec.get("onExit")
            hooks = self.spec.get("hooks") or {}
            exit_hook = hooks.get("exit") if isinstance(hooks, Mapping) else None
            exit_started = self.get(f"{self.name}.onExit") is not None
            if (on_exit or exit_hook) and (self.shutdown != "Terminate" or exit_started):
                # Terminate skips exit handlers; one already running is visited so its Job is deleted.
                self.globals["workflow.status"] = wf_phase
                self.globals["workflow.failures"] = self.failures_json()
                holder: Mapping[str, Any] = (
                    exit_hook if isinstance(exit_hook, Mapping) and not on_exit else {"template": on_exit}
                )
                exit_node = self.execute(
                    f"{self.name}.onExit",
                    holder,
                    holder.get("arguments") or {},
                    self.local_scope,
                    Opts(boundary_id="", boundary_name=None, on_exit=True),
                    flag={"hooked": True},
                )
                exit_done = exit_node is not None and is_fulfilled(exit_node.get("phase"))
            if exit_done:
                message = str(root.get("message") or "")
                if wf_phase in ("Failed", "Error") and self.shutdown:
                    message = f"Stopped with strategy '{self.shutdown}'"
                phase = wf_phase
                if wf_phase == "Succeeded" and exit_node is not None and is_failed(exit_node.get("phase")):
                    phase = str(exit_node.get("phase"))
                    message = str(exit_node.get("message") or "")
                if phase == "Succeeded":
                    message = ""
        elif root is not None and root.get("phase") == "Pending":
            phase = "Running"
        return self.assemble(phase, message)

    def run_workflow_hooks(self, root: NodeStatus | None) -> bool:
        """`spec.hooks` other than `exit`: `<wf>.hooks.<name>` starts once its expression holds (workflow.status
        is the main tree's phase); True while a started hook runs (the workflow waits for it, as Argo does)."""
        hooks = self.spec.get("hooks") or {}
        if not isinstance(hooks, Mapping) or root is None:
            return False
        status = "Running"
        if is_fulfilled(root.get("phase")):
            status = {"Failed": "Failed", "Error": "Error"}.get(str(root.get("phase")), "Succeeded")
        scope = layered({"workflow.status": status}, self.globals)
        running = False
        for hook_name, hook in hooks.items():
            if hook_name == "exit" or not isinstance(hook, Mapping):
                continue
            name = f"{self.name}.hooks.{hook_name}"
            if self.get(name) is None and (self.shutdown or not self.hook_fires(hook, scope)):
                continue
            resolved = expr.substitute(dict(hook), scope)
            node = self.execute(
                name,
                resolved,
                resolved.get("arguments") or {},
                self.local_scope,
                Opts(boundary_id="", boundary_name=None),
                flag={"hooked": True},
            )
            if node is None or not is_fulfilled(node.get("phase")):
                running = True
        return running

    def failures_json(self) -> str:
        failures = []
        for node in self.nodes.values():
            if is_failed(node.get("phase")):
                failures.append(
                    {
                        "displayName": node.get("displayName", ""),
                        "message": node.get("message", ""),
                        "templateName": node.get("templateName", ""),
                        "phase": node.get("phase", ""),
                        "podName": self.job_name(self.name, node["name"]),
                        "finishedAt": node.get("finishedAt"),
                    }
                )
        return json.dumps(failures, separators=(",", ":"))

    def assemble(self, phase: str, message: str) -> list[Action]:
        done = phase in ("Succeeded", "Failed", "Error")
        if done:
            self.kill_daemons(None)  # Argo stops every daemon when the workflow ends
        status: dict[str, Any] = {
            key: value
            for key, value in self.status_in.items()
            if key
            not in ("phase", "message", "finishedAt", "nodes", "compressedNodes", "progress", "conditions", "outputs")
        }
        status["phase"] = phase
        if message:
            status["message"] = message
        status["startedAt"] = format_time(self.started_at)
        if done:
            status["finishedAt"] = self.now_text
        status["progress"] = progress(self.nodes.values())
        pod_running = any(n.get("type") == "Pod" and n.get("phase") == "Running" for n in self.nodes.values())
        status["conditions"] = conditions(completed=done, pod_running=pod_running and not done)
        pack_nodes(status, self.nodes)
        outputs = self.workflow_outputs()
        if outputs:
            status["outputs"] = outputs
        if self.stored_templates:
            status["storedTemplates"] = self.stored_templates
        if self.stored_workflow_template_spec:
            status["storedWorkflowTemplateSpec"] = self.stored_workflow_template_spec
        claims = claim_volumes(self.name, self.spec)
        if claims and not done:  # Argo's record of the claims it made; at the end the shell releases them
            status["persistentVolumeClaims"] = claims

        actions: list[Action] = []
        actions.extend(self.deletes)
        actions.extend(self.creates)
        if status != self.status_in:
            actions.append(UpdateStatus(status))
        actions.extend(self.events(phase, message))
        if not done and self.timers:
            actions.append(RequeueAt(min(self.timers)))
        return actions

    def events(self, phase: str, message: str) -> list[RecordEvent]:
        """Argo's events: node phase changes (WorkflowNode<Phase>), workflow Running first, completion last."""
        out: list[RecordEvent] = []
        if phase != self.status_in.get("phase") and phase == "Running":
            out.append(RecordEvent("WorkflowRunning", "Workflow Running"))
        out.extend(self.node_events())
        if phase != self.status_in.get("phase"):
            if phase == "Succeeded":
                out.append(RecordEvent("WorkflowSucceeded", "Workflow completed"))
            elif phase in ("Failed", "Error"):
                out.append(RecordEvent("WorkflowFailed", message, "Warning"))
        return out

    def node_events(self) -> list[RecordEvent]:
        out: list[RecordEvent] = []
        for nid, node in self.nodes.items():
            node_phase = node.get("phase")
            if node_phase not in ("Running", "Succeeded", "Failed", "Error"):
                continue
            if self.old_phases.get(nid) == node_phase:
                continue
            text = f"{node_phase} node {node.get('name')}"
            if node.get("message"):
                text += f": {node.get('message')}"
            kind = "Normal" if node_phase in ("Running", "Succeeded") else "Warning"
            out.append(RecordEvent(f"WorkflowNode{node_phase}", text, kind, node_id=nid))  # type: ignore[arg-type]
        return out

    def publish_global_artifacts(self, artifacts: Iterable[Mapping[str, Any]]) -> None:
        for artifact in artifacts:
            if artifact.get("globalName"):
                self.global_artifacts[f"workflow.outputs.artifacts.{artifact['globalName']}"] = artifact

    def publish_globals(self, params: Iterable[Mapping[str, Any]]) -> None:
        """An output with a globalName is visible as workflow.outputs.parameters.<name> from now on (this pass too)."""
        for param in params:
            if param.get("globalName"):
                self.globals[f"workflow.outputs.parameters.{param['globalName']}"] = to_str(param.get("value", ""))

    def workflow_outputs(self) -> dict[str, Any]:
        """`status.outputs`: every output with a `globalName`, from Succeeded nodes, last finisher wins."""
        params: dict[str, dict[str, Any]] = {}
        artifacts: dict[str, dict[str, Any]] = {}
        for node in sorted(self.nodes.values(), key=lambda n: (n.get("finishedAt", ""), n.get("id", ""))):
            outputs = node.get("outputs")
            if not outputs or node.get("phase") != "Succeeded":
                continue
            for param in outputs.get("parameters") or []:
                global_name = param.get("globalName")
                if global_name:
                    params[global_name] = {"name": global_name, "value": param.get("value", "")}
            for artifact in outputs.get("artifacts") or []:
                global_name = artifact.get("globalName")
                if global_name:
                    artifacts[global_name] = {**artifact, "name": global_name}
        out: dict[str, Any] = {}
        if params:
            out["parameters"] = list(params.values())
        if artifacts:
            out["artifacts"] = list(artifacts.values())
        return out

    # --- spec and scope ----------------------------------------------------------------------------------------

    def effective_spec(self) -> Mapping[str, Any]:
        spec: Mapping[str, Any] = self.workflow.get("spec") or {}
        ref = spec.get("workflowTemplateRef")
        if not ref:
            return spec
        kind = "ClusterWorkflowTemplate" if ref.get("clusterScope") else "WorkflowTemplate"
        # Argo keeps the referenced spec in status.storedWorkflowTemplateSpec: later edits don't change a run.
        base_spec: Mapping[str, Any] = self.status_in.get("storedWorkflowTemplateSpec") or {}
        if not base_spec:
            base = self.context.templates.get((kind, str(ref.get("name"))))
            if base is None:
                raise PlanError(f'{kind} "{ref.get("name")}" referenced by spec.workflowTemplateRef was not found')
            base_spec = base.get("spec") or {}
        self.stored_workflow_template_spec = base_spec
        merged: dict[str, Any] = {**base_spec, **{k: v for k, v in spec.items() if k != "workflowTemplateRef"}}
        merged["templates"] = [*(base_spec.get("templates") or []), *(spec.get("templates") or [])]
        base_args = (base_spec.get("arguments") or {}).get("parameters") or []
        own_args = (spec.get("arguments") or {}).get("parameters") or []
        by_name: dict[str, Any] = {p.get("name"): p for p in base_args}
        for param in own_args:
            by_name[param.get("name")] = {**by_name.get(param.get("name"), {}), **param}
        arguments = dict(base_spec.get("arguments") or {})
        arguments.update(spec.get("arguments") or {})
        if by_name:
            arguments["parameters"] = list(by_name.values())
        merged["arguments"] = arguments
        return merged

    def global_scope(self) -> dict[str, str]:
        metadata = self.workflow.get("metadata") or {}
        scope: dict[str, str] = {
            "workflow.name": self.name,
            "workflow.namespace": self.namespace,
            "workflow.uid": str(metadata.get("uid") or ""),
            "workflow.serviceAccountName": str(self.spec.get("serviceAccountName") or ""),
            "workflow.status": "Running",
            "workflow.failures": "[]",
            "workflow.mainEntrypoint": str(self.spec.get("entrypoint") or ""),
            "workflow.duration": f"{max((self.now - self.started_at).total_seconds(), 0.0):f}",
            "workflow.priority": str(self.spec.get("priority") or 0),
        }
        created = parse_time(metadata.get("creationTimestamp"))
        if created is not None:
            scope["workflow.creationTimestamp"] = format_time(created)
            scope.update(templating.creation_timestamp_vars(created))
        labels = {str(k): str(v) for k, v in (metadata.get("labels") or {}).items()}
        annotations = {str(k): str(v) for k, v in (metadata.get("annotations") or {}).items()}
        for key, value in labels.items():
            scope[f"workflow.labels.{key}"] = value
        for key, value in annotations.items():
            scope[f"workflow.annotations.{key}"] = value
        for key, mapping in (("labels", labels), ("annotations", annotations)):
            scope[f"workflow.{key}"] = scope[f"workflow.{key}.json"] = json.dumps(mapping, separators=(",", ":"))
        params = []
        for param in (self.spec.get("arguments") or {}).get("parameters") or []:
            name = param.get("name")
            if "value" in param:
                value = to_str(param["value"])
            elif (param.get("valueFrom") or {}).get("configMapKeyRef"):
                ref = param["valueFrom"]["configMapKeyRef"]
                try:
                    value = configmaps.resolve(param["valueFrom"], self.context.config_maps, self.namespace, scope)
                except configmaps.ConfigMapValueError as exc:
                    raise PlanError(
                        f"failed to set global parameter {name} from configmap with name {ref.get('name')} and key "
                        f"{ref.get('key')}: {exc}"
                    ) from exc
            elif "default" in param.get("valueFrom", {}) or "default" in param:
                value = to_str(param.get("valueFrom", {}).get("default", param.get("default")))
            else:
                raise PlanError(f"spec.arguments.parameters.{name}: no value given; set value (or a default)")
            enum = param.get("enum")
            if enum and value not in [to_str(e) for e in enum]:
                raise PlanError(
                    f"spec.arguments.parameters.{name}: value '{value}' is not one of the allowed values "
                    f"{[to_str(e) for e in enum]}"
                )
            scope[f"workflow.parameters.{name}"] = value
            params.append({"name": name, "value": value})
        scope["workflow.parameters"] = scope["workflow.parameters.json"] = json.dumps(params, separators=(",", ":"))
        for param in (self.status_in.get("outputs") or {}).get("parameters") or []:
            scope[f"workflow.outputs.parameters.{param.get('name')}"] = to_str(param.get("value", ""))
        return scope

    # --- templates ---------------------------------------------------------------------------------------------

    def resolve(self, holder: Mapping[str, Any], scope: TemplateScope) -> Resolved:
        inline = holder.get("inline")
        if isinstance(inline, Mapping):
            return Resolved(self.with_defaults(inline), scope, None)
        ref = holder.get("templateRef")
        if isinstance(ref, Mapping):
            kind = "ClusterWorkflowTemplate" if ref.get("clusterScope") else "WorkflowTemplate"
            found = self.context.templates.get((kind, str(ref.get("name"))))
            new_scope = TemplateScope(
                "cluster" if kind == "ClusterWorkflowTemplate" else "namespaced",
                str(ref.get("name")),
                templates_by_name(((found or {}).get("spec") or {}).get("templates")),
            )
            template = self.scoped_template(new_scope, str(ref.get("template")))
            if template is None:
                if found is None:
                    raise PlanError(f'{kind} "{ref.get("name")}" not found; create it or fix templateRef.name')
                raise PlanError(f'template "{ref.get("template")}" not found in {kind} "{ref.get("name")}"')
            return Resolved(self.with_defaults(template), new_scope, ref)
        name = holder.get("template")
        if not name:
            raise PlanError("names no template; set template, templateRef or inline")
        template = self.scoped_template(scope, str(name))
        if template is None:
            raise PlanError(f"templates.{name} not found")
        return Resolved(self.with_defaults(template), scope, None)

    def scoped_template(self, scope: TemplateScope, name: str) -> Mapping[str, Any] | None:
        """A template by name in its scope. Templates of WorkflowTemplates are kept in `status.storedTemplates`
        (`namespaced/<wftmpl>/<name>`, `cluster/<cwftmpl>/<name>`) the first time they are used and read from there
        afterwards, as Argo does: a running workflow is not changed by later edits (or deletion) of its templates."""
        if scope.kind == "local":
            return scope.templates.get(name)
        key = f"{scope.label}/{name}"
        stored = self.stored_templates.get(key)
        if isinstance(stored, Mapping):
            return stored
        template = scope.templates.get(name)
        if template is not None:
            self.stored_templates[key] = dict(template)
        return template

    def with_defaults(self, template: Mapping[str, Any]) -> Mapping[str, Any]:
        defaults = self.spec.get("templateDefaults")
        if not defaults:
            return template
        return merge_defaults(defaults, template)

    # --- execute: Argo's executeTemplate --------------------------------------------------------------------------

    def execute(
        self,
        node_name: str,
        holder: Mapping[str, Any],
        arguments: Mapping[str, Any],
        scope: TemplateScope,
        opts: Opts,
        *,
        local: Scope | None = None,
        artifacts: Mapping[str, Mapping[str, Any]] | None = None,
        flag: Mapping[str, bool] | None = None,
    ) -> NodeStatus | None:
        node = self.get(node_name)
        if node is not None and (is_fulfilled(node.get("phase")) or self.still_running(node, opts)):
            return node
        template_name = str(holder.get("template") or "")
        if node is None and self.created_nodes >= MAX_NEW_NODES_PER_PASS:
            # Bounded work per pass (Argo bounds an operation by time): the rest is created in the next pass.
            self.timer(self.now + timedelta(seconds=1))
            return None
        if self.depth >= MAX_DEPTH:
            # Argo's maxStackDepth: a template that calls itself without end (e.g. a `when` that never turns false).
            message = (
                f"Maximum recursion depth exceeded ({MAX_DEPTH} nested templates); "
                "check the condition that should end the recursion"
            )
            return self.error_node(node, node_name, message, opts, template_name, holder)
        self.depth += 1
        try:
            return self.execute_resolved(node, node_name, holder, arguments, scope, opts, local, artifacts, flag)
        finally:
            self.depth -= 1

    def execute_resolved(
        self,
        node: NodeStatus | None,
        node_name: str,
        holder: Mapping[str, Any],
        arguments: Mapping[str, Any],
        scope: TemplateScope,
        opts: Opts,
        local: Scope | None,
        artifacts: Mapping[str, Mapping[str, Any]] | None,
        flag: Mapping[str, bool] | None,
    ) -> NodeStatus | None:
        template_name = str(holder.get("template") or "")
        try:
            resolved = self.resolve(holder, scope)
            template = resolved.template
            template_name = str(template.get("name") or template_name)
            params, input_artifacts = self.inputs_of(
                template, arguments, artifacts or {}, local if local is not None else self.globals
            )
        except (PlanError, DurationError, DependsError, expr.WhenError) as exc:
            return self.error_node(node, node_name, str(exc), opts, template_name, holder)
        retry = self.retry_strategy(template)
        if retry is not None:
            return self.execute_retry(node_name, resolved, params, input_artifacts, retry, opts, holder, flag)
        return self.execute_kind(node_name, resolved, params, input_artifacts, opts, holder, flag=flag, retries=None)

    def still_running(self, node: NodeStatus, opts: Opts) -> bool:
        """Fast path: a Pod node whose Job is alive needs no template work this pass (only Pending -> Running)."""
        if node.get("type") != "Pod":
            return False
        observation = self.observed.get(node["id"])
        if observation is None or observation.deleted or observation.phase not in ("Pending", "Running"):
            return False
        if self.blocked_message(opts):
            return False
        if observation.phase == "Pending" and node.get("phase") == "Pending" and self.has_timeouts:
            return False  # a pending Job may have outlived its template's timeout / pendingTimeout
        if (
            observation.phase == "Running"
            and observation.ready
            and not is_daemoned(node)
            and self.template_is_daemon(node) is not False
        ):
            return False  # a daemon that just became ready: execute_pod marks it daemoned
        if observation.phase == "Running" and node.get("phase") != "Running":
            self.mark(node, "Running")
        return True

    def template_is_daemon(self, node: NodeStatus) -> bool | None:
        """Whether the node's template says `daemon: true`, read cheaply from the node's templateName and scope;
        None when that cannot tell (inline templates): the caller then takes the full path."""
        name = node.get("templateName")
        if not name:
            return None
        label = node.get("templateScope")
        template = self.stored_templates.get(f"{label}/{name}") if label else self.local_scope.templates.get(name)
        if not isinstance(template, Mapping):
            return None
        defaults = self.spec.get("templateDefaults")
        if "daemon" not in template and isinstance(defaults, Mapping):
            return defaults.get("daemon") is True
        return template.get("daemon") is True

    def error_node(
        self,
        node: NodeStatus | None,
        node_name: str,
        message: str,
        opts: Opts,
        template_name: str,
        holder: Mapping[str, Any],
    ) -> NodeStatus:
        if node is not None:
            return self.mark(node, "Error", message)
        return self.init_node(
            node_name,
            "Skipped",
            "Error",
            opts,
            template_name=template_name,
            template_ref=holder.get("templateRef"),
            message=message,
        )

    def retry_strategy(self, template: Mapping[str, Any]) -> Mapping[str, Any] | None:
        strategy = template.get("retryStrategy") or self.spec.get("retryStrategy")
        if not strategy:
            return None
        if template.get("suspend") is not None:
            return None
        return cast(Mapping[str, Any], strategy)

    def inputs_of(
        self,
        template: Mapping[str, Any],
        arguments: Mapping[str, Any],
        artifacts_scope: Mapping[str, Mapping[str, Any]],
        scope: Scope,
    ) -> tuple[dict[str, str], list[InputArtifact]]:
        """Input parameters (argument, value, default; enum checked) and input artifacts with their locations."""
        given = {p.get("name"): p for p in arguments.get("parameters") or []}
        params: dict[str, str] = {}
        inputs = template.get("inputs") or {}
        for param in inputs.get("parameters") or []:
            name = str(param.get("name"))
            arg = given.get(name)
            value_from = (arg if arg is not None else param).get("valueFrom") or {}
            if arg is not None and "value" in arg:
                value = to_str(arg["value"])
            elif value_from.get("configMapKeyRef"):
                try:
                    value = configmaps.resolve(value_from, self.context.config_maps, self.namespace, self.globals)
                except configmaps.ConfigMapValueError as exc:
                    raise PlanError(f"unable to retrieve inputs.parameters.{name} from ConfigMap: {exc}") from exc
            elif "value" in param:
                value = to_str(param["value"])
            elif "default" in param:
                value = to_str(param["default"])
            elif (param.get("valueFrom") or {}).get("default") is not None:
                value = to_str(param["valueFrom"]["default"])
            else:
                raise PlanError(f"inputs.parameters.{name} was not supplied")
            enum = param.get("enum")
            if enum and value not in [to_str(e) for e in enum]:
                allowed = ", ".join(to_str(e) for e in enum)
                raise PlanError(
                    f"inputs.parameters.{name}: value '{value}' is not one of the allowed values: {allowed}"
                )
            params[name] = value
        given_art = {a.get("name"): a for a in arguments.get("artifacts") or []}
        resolved: list[InputArtifact] = []
        for artifact in inputs.get("artifacts") or []:
            name = str(artifact.get("name"))
            source: Mapping[str, Any] = given_art.get(name) or artifact
            location: Mapping[str, Any] | None = None
            unpack = False
            ref = source.get("from")
            if source.get("fromExpression"):
                ref = self.artifact_from_expression(str(source["fromExpression"]), artifacts_scope, scope)
            unsupported = [k for k in UNSUPPORTED_ARTIFACTS if k in source]
            if unsupported:
                raise PlanError(
                    f"input artifact '{name}': {unsupported[0]} artifacts are not supported by Trellis; "
                    "use s3, http, git or raw"
                )
            if isinstance(ref, str) and ref:
                match = ARTIFACT_REF.match(ref)
                key = match.group(1) if match else ref
                produced = artifacts_scope.get(key) or self.global_artifacts.get(key)
                if produced is not None:
                    location = {k: v for k, v in produced.items() if k in ("s3", "http", "git", "raw", "local")}
                    unpack = (produced.get("archive") or {}).get("none") is None and bool(
                        {"s3", "local"} & set(produced)
                    )
            else:
                location = {k: v for k, v in source.items() if k in ("s3", "http", "git", "raw", "local")}
                if not location:
                    location = {k: v for k, v in artifact.items() if k in ("s3", "http", "git", "raw", "local")}
                if location:
                    # An inline location may use variables (e.g. s3.key "{{workflow.name}}/results").
                    own = {f"inputs.parameters.{k}": v for k, v in params.items()}
                    location = expr.substitute(location, layered(own, scope, self.globals))
            optional = bool(artifact.get("optional") or source.get("optional"))
            sub_path = str(source.get("subPath") or artifact.get("subPath") or "").strip("/")
            if location and sub_path:
                if unpack:
                    raise PlanError(
                        f"input artifact '{name}': subPath needs the producer to store the artifact unarchived; "
                        "set archive: none on its output"
                    )
                location = with_sub_path(location, sub_path)
            if not location:
                if optional:
                    continue
                where = f" from {ref}" if ref else ""
                raise PlanError(f"Unable to resolve input artifact '{name}'{where}: no such artifact was produced")
            item: InputArtifact = {
                "name": name,
                "path": str(artifact.get("path") or ""),
                "location": cast(ArtifactLocation, dict(location)),
            }
            if artifact.get("mode") is not None:
                item["mode"] = int(artifact["mode"])
            if optional:
                item["optional"] = True
            item["unpack"] = unpack
            resolved.append(item)
        return params, resolved

    def artifact_from_expression(
        self, text: str, artifacts_scope: Mapping[str, Mapping[str, Any]], scope: Scope
    ) -> str:
        """`fromExpression`: evaluated over a scope where every known artifact reference stands for its own name, so
        `cond ? steps.a.outputs.artifacts.x : steps.b.outputs.artifacts.y` yields the chosen reference."""
        names = {key: key for key in [*artifacts_scope, *self.global_artifacts]}
        try:
            return "{{" + expr.evaluate_string(text, layered(names, scope)) + "}}"
        except expr.ExpressionFailed as exc:
            raise PlanError(f"fromExpression '{text}': {exc}") from exc

    def template_scope(
        self,
        node_name: str,
        template: Mapping[str, Any],
        params: Mapping[str, str],
        artifacts: list[InputArtifact],
        *,
        pod_name: str = "",
        retries: int | None = None,
    ) -> dict[str, str]:
        local: dict[str, str] = {"node.name": node_name}
        for name, value in params.items():
            local[f"inputs.parameters.{name}"] = value
        local["inputs.parameters"] = (
            json.dumps([{"name": k, "value": v} for k, v in params.items()], separators=(",", ":")) if params else "[]"
        )
        for artifact in artifacts:
            local[f"inputs.artifacts.{artifact['name']}.path"] = artifact.get("path", "")
        outputs = template.get("outputs") or {}
        for param in outputs.get("parameters") or []:
            path = (param.get("valueFrom") or {}).get("path")
            if path:
                local[f"outputs.parameters.{param.get('name')}.path"] = str(path)
        for artifact in outputs.get("artifacts") or []:
            if artifact.get("path"):
                local[f"outputs.artifacts.{artifact.get('name')}.path"] = str(artifact["path"])
        if pod_name:
            local["pod.name"] = pod_name
        if retries is not None:
            local["retries"] = str(retries)
        return local

    def process(self, template: Mapping[str, Any], local: Mapping[str, str]) -> Mapping[str, Any]:
        """Substitute a template's own fields; a steps/dag body is substituted task by task later."""
        scope = layered(dict(local), self.globals)
        body = {k: v for k, v in template.items() if k not in ("steps", "dag")}
        processed = dict(expr.substitute(body, scope))
        for key in ("steps", "dag"):
            if key in template:
                processed[key] = template[key]
        return processed

    def execute_kind(
        self,
        node_name: str,
        resolved: Resolved,
        params: dict[str, str],
        artifacts: list[InputArtifact],
        opts: Opts,
        holder: Mapping[str, Any],
        *,
        flag: Mapping[str, bool] | None,
        retries: int | None,
    ) -> NodeStatus | None:
        template = resolved.template
        template_name = str(template.get("name") or holder.get("template") or "")
        is_pod = "container" in template or "script" in template
        pod_name = self.job_name(self.name, node_name) if is_pod else ""
        local = self.template_scope(node_name, template, params, artifacts, pod_name=pod_name, retries=retries)
        processed = self.process(template, local)
        common: dict[str, Any] = {
            "template_name": template_name,
            "template_ref": holder.get("templateRef"),
            "scope": resolved.scope,
            "flag": flag,
        }
        if is_pod:
            return self.execute_pod(node_name, processed, params, artifacts, opts, common)
        if "steps" in template:
            return self.end_scope(
                self.execute_steps(node_name, processed, resolved.scope, local, artifacts, opts, common)
            )
        if "dag" in template:
            return self.end_scope(
                self.execute_dag(node_name, processed, resolved.scope, local, artifacts, opts, common)
            )
        if "suspend" in template:
            return self.execute_suspend(node_name, processed, opts, common)
        node = self.get(node_name)
        kinds = [k for k in ("resource", "data", "http", "plugin", "containerSet") if k in template]
        if kinds:
            message = f"template '{template_name}': {kinds[0]} templates are not supported by Trellis"
        else:
            message = f"Template '{template_name}' missing specification"
        return self.error_node(node, node_name, message, opts, template_name, holder)

    # --- leaf: one Job per attempt -----------------------------------------------------------------------------

    def blocked_message(self, opts: Opts) -> str:
        if self.shutdown == "Terminate" or (self.shutdown == "Stop" and not opts.on_exit):
            return f"Stopped with strategy '{self.shutdown}'"
        if self.deadline is not None and self.now >= self.deadline and not opts.on_exit:
            return "Step exceeded its deadline"
        return ""

    def execute_pod(
        self,
        node_name: str,
        template: Mapping[str, Any],
        params: Mapping[str, str],
        artifacts: list[InputArtifact],
        opts: Opts,
        common: Mapping[str, Any],
    ) -> NodeStatus | None:
        node = self.get(node_name)
        blocked = self.blocked_message(opts)
        if node is None:
            if blocked:
                return self.init_node(node_name, "Pod", "Failed", opts, message=blocked, **common)
            if self.spec.get("suspend"):
                return None
            limit = self.spec.get("parallelism")
            if limit is not None and self.active_pods >= to_int(limit, "spec.parallelism"):
                return None
            node = self.init_node(node_name, "Pod", "Pending", opts, **common)
            inputs = node_inputs(params, artifacts)
            if inputs:
                node["inputs"] = inputs  # type: ignore[typeddict-item]
            self.active_pods += 1
            self.create_job(node, template, params, artifacts)
            return node
        nid = node["id"]
        observation = self.observed.get(nid)
        job = observation.job_name if observation else self.job_name(self.name, node_name)
        if blocked and (observation is None or observation.deleted or observation.phase in ("Pending", "Running")):
            message = blocked
            if observation is not None and not observation.deleted:
                # Argo: a live pod is terminated; its node says why (shutdown wording differs from the deadline's).
                reason = self.shutdown or "deadline exceeded"
                self.deletes.append(DeleteJob(nid, observation.job_name, reason))
                if self.shutdown and not blocked.startswith("Step"):
                    message = f"workflow shutdown with strategy:  {self.shutdown}"
            return self.mark(node, "Failed", message)
        if observation is None or observation.deleted:
            if (observation is not None and observation.deleted) or node.get("phase") == "Running":
                return self.mark(node, "Failed", f"Job {job} was deleted")
            self.create_job(node, template, params, artifacts)
            return node
        if observation.phase == "Pending":
            if node.get("phase") == "Pending" and self.pending_expired(node, template):
                # Argo's checkTemplateTimeouts: a node still Pending past `timeout`/`pendingTimeout` fails.
                self.deletes.append(DeleteJob(nid, observation.job_name, "timeout"))
                return self.mark(node, "Failed", "timeout")
            return node
        if observation.phase == "Running":
            if node.get("phase") != "Running":
                self.mark(node, "Running")
            if template.get("daemon") is True and observation.ready and not is_daemoned(node):
                self.set_daemoned(node, observation.pod_ip)
            return node
        self.undaemon(node)
        completed = self.complete_pod(node, template, observation)
        if template.get("daemon") is True and completed.get("phase") == "Succeeded":
            return self.mark(completed, "Failed", DAEMON_EXITED)
        return completed

    # --- daemons: Argo's `daemon: true` templates -----------------------------------------------------------

    def set_daemoned(self, node: NodeStatus, pod_ip: str) -> None:
        """Argo marks the node `daemoned: true` (phase stays Running) and records the pod's IP (`podIP`)."""
        node["daemoned"] = True
        if node.get("type") == "Pod":
            self.active_pods -= 1  # frees its spec.parallelism slot, as in Argo
        if pod_ip:
            node["podIP"] = pod_ip
        self.daemoned_ids.add(node["id"])

    def undaemon(self, node: NodeStatus) -> None:
        node.pop("daemoned", None)
        self.daemoned_ids.discard(node["id"])

    def end_scope(self, node: NodeStatus) -> NodeStatus:
        """A steps/DAG node that just completed ends the daemons it started (Argo's killDaemonedChildren)."""
        if is_fulfilled(node.get("phase")):
            self.kill_daemons(node["id"])
        return node

    def kill_daemons(self, boundary_id: str | None) -> None:
        """Stop the daemoned nodes whose boundary is `boundary_id` (None: all of them, at the workflow's end): their
        Jobs are deleted and the nodes Succeed, as Argo's killDaemonedChildren does."""
        for nid in sorted(self.daemoned_ids):
            node = self.nodes.get(nid)
            if node is None or (boundary_id is not None and node.get("boundaryID", "") != boundary_id):
                continue
            self.undaemon(node)
            if node.get("type") == "Pod":
                observation = self.observed.get(nid)
                job = observation.job_name if observation else self.job_name(self.name, node["name"])
                self.deletes.append(DeleteJob(nid, job, "daemon scope ended"))
            self.mark(node, "Succeeded")

    def check_daemons(self) -> None:
        """Before the walk: a daemoned Pod node whose Job ended or vanished fails now (a completed step group is not
        walked again, so this is where a daemon that died after its siblings moved on is noticed)."""
        for nid in sorted(self.daemoned_ids):
            node = self.nodes.get(nid)
            if node is None or node.get("type") != "Pod":
                continue
            observation = self.observed.get(nid)
            if observation is not None and not observation.deleted and observation.phase in ("Pending", "Running"):
                continue
            self.undaemon(node)
            if observation is None or observation.deleted:
                self.mark(node, "Failed", f"Job {self.job_name(self.name, node['name'])} was deleted")
            elif self.complete_pod(node, {}, observation).get("phase") == "Succeeded":
                self.mark(node, "Failed", DAEMON_EXITED)
        for nid in sorted(self.daemoned_ids):
            node = self.nodes.get(nid)
            if node is not None and node.get("type") == "Retry":
                self.sync_retry_daemon(node)

    def sync_retry_daemon(self, retry: NodeStatus) -> None:
        """A Retry node is daemoned (with its attempt's podIP) while its last attempt is."""
        attempts = [
            c for c in retry.get("children") or [] if (self.nodes.get(c) or {}).get("nodeFlag", {}).get("retried")
        ]
        last = self.nodes.get(attempts[-1]) if attempts else None
        if last is not None and is_daemoned(last):
            if not is_daemoned(retry):
                self.set_daemoned(retry, str(last.get("podIP") or ""))
        elif is_daemoned(retry):
            self.undaemon(retry)

    def pending_expired(self, node: NodeStatus, template: Mapping[str, Any]) -> bool:
        started = parse_time(node.get("startedAt")) or self.now
        for key in ("timeout", "pendingTimeout"):
            text = template.get(key)
            if not text:
                continue
            try:
                deadline = started + parse_duration(str(text))
            except DurationError:
                continue
            if self.now > deadline:
                return True
            self.timer(deadline + timedelta(seconds=1))
        return False

    def create_job(
        self,
        node: NodeStatus,
        template: Mapping[str, Any],
        params: Mapping[str, str],
        artifacts: list[InputArtifact],
    ) -> None:
        try:
            deadline = self.leaf_deadline(node, template)
        except PlanError as exc:
            self.active_pods -= 1
            self.mark(node, "Error", str(exc))
            return
        job = self.job_name(self.name, node["name"])
        step = StepSpec(
            workflow=self.step_workflow,
            node_id=node["id"],
            node_name=node["name"],
            template=template,
            parameters=dict(params),
            input_artifacts=tuple(artifacts),
            active_deadline_seconds=deadline,
            artifact_key_prefix=f"{self.name}/{job}",
        )
        try:
            manifest = self.expand(step, context=self.context)
        except ValueError as exc:  # executor.jobspec.ExpandError: the step cannot become a Job
            self.active_pods -= 1
            self.mark(node, "Error", str(exc))
            return
        self.creates.append(CreateJob(node["id"], manifest))

    def leaf_deadline(self, node: NodeStatus, template: Mapping[str, Any]) -> int | None:
        limits: list[float] = []
        started = parse_time(node.get("startedAt")) or self.now
        ads = template.get("activeDeadlineSeconds")
        if ads is not None:
            with contextlib.suppress(PlanError):
                limits.append(float(to_int(ads, "activeDeadlineSeconds")))
        timeout = template.get("timeout")
        if timeout:
            try:
                seconds = parse_duration(str(timeout)).total_seconds()
            except DurationError as exc:
                raise PlanError(f"invalid timeout format: {exc}") from exc
            limits.append(seconds - (self.now - started).total_seconds())
        if self.deadline is not None:
            limits.append((self.deadline - self.now).total_seconds())
        if not limits:
            return None
        return max(1, math.ceil(min(limits)))

    def complete_pod(self, node: NodeStatus, template: Mapping[str, Any], obs: JobObservation) -> NodeStatus:
        report = obs.report or {}
        outputs: dict[str, Any] = {}
        missing: list[str] = []
        reported = report.get("parameters") or {}
        params_out = []
        for param in (template.get("outputs") or {}).get("parameters") or []:
            name = str(param.get("name"))
            value_from = param.get("valueFrom") or {}
            if name in reported:
                value = to_str(reported[name])
            elif value_from.get("default") is not None:
                value = to_str(value_from["default"])
            elif "value" in param:
                value = to_str(param["value"])
            else:
                missing.append(name)
                continue
            record = {"name": name, "value": value}
            if param.get("globalName"):
                record["globalName"] = str(param["globalName"])
            params_out.append(record)
        if params_out:
            outputs["parameters"] = params_out
        declared = {a.get("name"): a for a in (template.get("outputs") or {}).get("artifacts") or []}
        arts_out = []
        for artifact in report.get("artifacts") or []:
            art: dict[str, Any] = {"name": artifact.get("name"), "path": artifact.get("path", "")}
            art.update(artifact.get("location") or {})
            if artifact.get("archive") == "none":
                art["archive"] = {"none": {}}
            spec = declared.get(artifact.get("name"))
            if spec is not None and spec.get("globalName"):
                art["globalName"] = spec["globalName"]
            arts_out.append({k: v for k, v in art.items() if v not in (None, "")})
        if arts_out:
            outputs["artifacts"] = arts_out
        if "result" in report:
            outputs["result"] = report["result"]
        if obs.exit_code is not None:
            outputs["exitCode"] = str(obs.exit_code)
        if outputs:
            node["outputs"] = outputs  # type: ignore[typeddict-item]
        if obs.finished_at is not None:
            node["finishedAt"] = format_time(obs.finished_at)
        if report.get("error"):
            return self.mark(node, "Error", str(report["error"]))
        if obs.phase == "Failed":
            message = obs.message or (
                f"Error (exit code {obs.exit_code})" if obs.exit_code is not None else "Job failed"
            )
            return self.mark(node, "Failed", message)
        if missing:
            names = ", ".join(missing)
            return self.mark(node, "Error", f"output parameter(s) {names} not reported and without default")
        self.publish_globals(params_out)
        self.publish_global_artifacts(arts_out)
        return self.mark(node, "Succeeded", obs.message or None)

    # --- retries -----------------------------------------------------------------------------------------------

    # --- suspend -----------------------------------------------------------------------------------------------

    def execute_suspend(
        self, node_name: str, template: Mapping[str, Any], opts: Opts, common: Mapping[str, Any]
    ) -> NodeStatus:
        node = self.get(node_name)
        if node is None:
            node = self.init_node(node_name, "Suspend", "Running", opts, **common)
        if is_fulfilled(node.get("phase")):
            return node
        blocked = self.blocked_message(opts)
        if blocked:
            return self.mark(node, "Failed", blocked)
        duration = (template.get("suspend") or {}).get("duration")
        if duration:
            try:
                seconds = parse_duration(str(duration))
            except DurationError as exc:
                return self.mark(node, "Error", str(exc))
            started = parse_time(node.get("startedAt")) or self.now
            if self.now >= started + seconds:
                params = suspend_outputs(template)
                if params:
                    node["outputs"] = cast(NodeOutputs, {"parameters": params})
                return self.mark(node, "Succeeded", "")
            self.timer(started + seconds)
        return node

    # --- steps -------------------------------------------------------------------------------------------------

    # --- dag ---------------------------------------------------------------------------------------------------

    # --- shared helpers for steps and dags -----------------------------------------------------------------------

    def outbound_of(self, node: NodeStatus) -> list[str]:
        """Argo's getOutboundNodes: the leaf nodes a successor should hang under."""
        kind = node.get("type")
        if kind in ("Pod", "Skipped", "Suspend"):
            return [node["id"]]
        if kind in ("Steps", "DAG"):
            return list(node.get("outboundNodes") or [node["id"]])
        if kind == "Retry":
            attempts = [
                c for c in node.get("children") or [] if (self.nodes.get(c) or {}).get("nodeFlag", {}).get("retried")
            ]
            return self.outbound_of(self.nodes[attempts[-1]]) if attempts else [node["id"]]
        if kind in ("TaskGroup", "StepGroup"):
            out: list[str] = []
            for child_id in node.get("children") or []:
                child = self.nodes.get(child_id)
                if child is not None:
                    out.extend(self.outbound_of(child))
            return out or [node["id"]]
        return [node["id"]]

    def hooks_done(self, node: NodeStatus, holder: Mapping[str, Any] | None = None) -> bool:
        """True when every hook node the node started (exit hook, expression hooks) is fulfilled.

        With `holder` (the step/task) only the hooks it declares are looked up; without, the exit hook."""
        if holder is not None:
            hooks = holder.get("hooks") or {}
            names = [f"hooks.{h}" for h in hooks if h != "exit"] if isinstance(hooks, Mapping) else []
            if holder.get("onExit") or (isinstance(hooks, Mapping) and hooks.get("exit")):
                names.append("onExit")
        else:
            names = ["onExit"]
        for suffix in names:
            hook = self.get(f"{node['name']}.{suffix}")
            if hook is not None and not is_fulfilled(hook.get("phase")):
                return False
        return True

    def run_hooks(
        self,
        node: NodeStatus,
        holder: Mapping[str, Any],
        tscope: TemplateScope,
        opts: Opts,
        local: Scope,
        prefix: str,
    ) -> None:
        """A step's/task's lifecycle hooks: expression hooks (`<node>.hooks.<name>`, started once their expression
        holds) and the exit hook (`<node>.onExit`: `hooks.exit` or `onExit`, once the node completed)."""
        hooks = holder.get("hooks") or {}
        if not isinstance(hooks, Mapping):
            hooks = {}
        on_exit = holder.get("onExit")
        if not hooks and not on_exit:
            return
        own: dict[str, str] = {}
        self.add_node_outputs(prefix, str(holder.get("name")), node, own, {})
        scope = layered(own, local)
        hook_opts = Opts(opts.boundary_id, opts.boundary_name, opts.on_exit, parent_id=node["id"])
        for hook_name, hook in hooks.items():
            if hook_name == "exit" or not isinstance(hook, Mapping):
                continue
            name = f"{node['name']}.hooks.{hook_name}"
            if self.get(name) is None and not self.hook_fires(hook, scope):
                continue
            resolved = expr.substitute(dict(hook), scope)
            self.execute(name, resolved, resolved.get("arguments") or {}, tscope, hook_opts, flag={"hooked": True})
        exit_hook = hooks.get("exit")
        if (not exit_hook and not on_exit) or node.get("phase") not in ("Succeeded", "Failed", "Error"):
            return
        hook_holder: Mapping[str, Any] = exit_hook if isinstance(exit_hook, Mapping) else {"template": on_exit}
        hook_holder = expr.substitute(dict(hook_holder), scope)
        self.execute(
            f"{node['name']}.onExit",
            hook_holder,
            hook_holder.get("arguments") or {},
            tscope,
            Opts(opts.boundary_id, opts.boundary_name, True, parent_id=node["id"]),
            flag={"hooked": True},
        )

    def exit_started(self, node: NodeStatus, holder: Mapping[str, Any]) -> bool:
        """False while a completed node's declared exit hook has not been created yet (it starts this pass)."""
        hooks = holder.get("hooks") or {}
        wants_exit = bool(holder.get("onExit") or (isinstance(hooks, Mapping) and hooks.get("exit")))
        if not wants_exit or node.get("phase") not in ("Succeeded", "Failed", "Error"):
            return True
        return self.get(f"{node['name']}.onExit") is not None

    def hook_fires(self, hook: Mapping[str, Any], scope: Scope) -> bool:
        expression = hook.get("expression")
        if not expression:
            return False
        try:
            return expr.evaluate_bool(str(expression), scope)
        except expr.ExpressionFailed:
            return False  # not yet decidable (e.g. an output that does not exist yet); asked again next pass

    def input_artifact_scope(self, inputs: list[InputArtifact]) -> dict[str, Mapping[str, Any]]:
        """`{{inputs.artifacts.X}}` inside a steps/dag template: the location the caller passed in."""
        return {
            f"inputs.artifacts.{a['name']}": {"name": a["name"], "path": a.get("path", ""), **a.get("location", {})}
            for a in inputs
        }

    def add_node_outputs(
        self,
        prefix: str,
        name: str,
        node: NodeStatus,
        scope: dict[str, str],
        arts: dict[str, Mapping[str, Any]],
    ) -> None:
        key = f"{prefix}.{name}"
        scope[f"{key}.status"] = str(node.get("phase"))
        scope[f"{key}.id"] = node["id"]
        if node.get("podIP"):
            scope[f"{key}.ip"] = str(node.get("podIP"))
        if node.get("startedAt"):
            scope[f"{key}.startedAt"] = str(node["startedAt"])
        if node.get("finishedAt"):
            scope[f"{key}.finishedAt"] = str(node["finishedAt"])
        if node.get("type") == "TaskGroup":
            members = [self.nodes[c] for c in node.get("children") or [] if c in self.nodes]
            self.add_aggregate_outputs(prefix, name, members, scope)
            return
        outputs = node.get("outputs") or {}
        if "result" in outputs:
            scope[f"{key}.outputs.result"] = str(outputs["result"])
        if "exitCode" in outputs:
            scope[f"{key}.exitCode"] = str(outputs["exitCode"])
            scope[f"{key}.outputs.exitCode"] = str(outputs["exitCode"])
        for param in outputs.get("parameters") or []:
            scope[f"{key}.outputs.parameters.{param.get('name')}"] = to_str(param.get("value", ""))
        if outputs.get("parameters"):
            scope[f"{key}.outputs.parameters"] = json.dumps(
                {p.get("name"): to_str(p.get("value", "")) for p in outputs["parameters"]}, separators=(",", ":")
            )
        for artifact in outputs.get("artifacts") or []:
            arts[f"{key}.outputs.artifacts.{artifact.get('name')}"] = artifact
        if node.get("phase") in ("Skipped", "Omitted"):
            self.add_skipped_defaults(key, node, scope)

    def add_skipped_defaults(self, key: str, node: NodeStatus, scope: dict[str, str]) -> None:
        """Argo v4: a skipped/omitted producer's declared outputs fall back to their defaults."""
        template_name = node.get("templateName")
        template = self.local_scope.templates.get(str(template_name)) if template_name else None
        if template is None:
            return
        for param in (template.get("outputs") or {}).get("parameters") or []:
            default = (param.get("valueFrom") or {}).get("default")
            name = f"{key}.outputs.parameters.{param.get('name')}"
            if default is not None and name not in scope:
                scope[name] = to_str(default)

    def add_aggregate_outputs(self, prefix: str, name: str, members: list[NodeStatus], scope: dict[str, str]) -> None:
        """Loop outputs as Argo aggregates them: JSON lists, in item order, from Succeeded children only."""
        key = f"{prefix}.{name}"
        ordered = sorted(
            (m for m in members if not (m.get("nodeFlag") or {}).get("hooked")), key=lambda m: loop_index(m["name"])
        )
        param_list: list[dict[str, str]] = []
        by_param: dict[str, list[str]] = {}
        results: list[Any] = []
        for member in ordered:
            outputs = member.get("outputs")
            if not outputs or member.get("phase") != "Succeeded":
                continue
            if outputs.get("parameters"):
                entry = {}
                for param in outputs["parameters"]:
                    value = to_str(param.get("value", ""))
                    entry[str(param.get("name"))] = value
                    by_param.setdefault(str(param.get("name")), []).append(value)
                param_list.append(entry)
            if "result" in outputs:
                try:
                    results.append(json.loads(str(outputs["result"])))
                except ValueError:
                    results.append(str(outputs["result"]))
        scope[f"{key}.outputs.result"] = json.dumps(results, separators=(",", ":"))
        scope[f"{key}.outputs.parameters"] = json.dumps(param_list, separators=(",", ":"))
        for param_name, values in by_param.items():
            scope[f"{key}.outputs.parameters.{param_name}"] = json_value_list(values)

    def finish_container(
        self,
        node: NodeStatus,
        template: Mapping[str, Any],
        scope: Mapping[str, str],
        arts: Mapping[str, Mapping[str, Any]],
    ) -> NodeStatus:
        """Outputs of a steps/dag template from its children (valueFrom.parameter / expression, artifact from)."""
        outputs: dict[str, Any] = {}
        params = []
        local = layered(dict(scope), self.globals)
        for param in (template.get("outputs") or {}).get("parameters") or []:
            value_from = param.get("valueFrom") or {}
            reference = value_from.get("parameter") or value_from.get("expression")
            value: str | None = None
            if value_from.get("parameter"):
                substituted = expr.substitute(str(reference), local)
                if "{{" not in str(substituted):
                    value = str(substituted)
            elif value_from.get("expression"):
                with contextlib.suppress(expr.ExpressionFailed):
                    value = expr.evaluate_string(str(reference), local)
            elif "value" in param:
                value = to_str(expr.substitute(param["value"], local))
            if value is None and value_from.get("default") is not None:
                value = to_str(value_from["default"])
            if value is None:
                return self.mark(
                    node,
                    "Error",
                    f"Unable to resolve outputs.parameters.{param.get('name')}: {reference} did not produce a value",
                )
            record = {"name": str(param.get("name")), "value": value}
            if param.get("globalName"):
                record["globalName"] = str(param["globalName"])
            params.append(record)
        self.publish_globals(params)
        if params:
            outputs["parameters"] = params
        artifacts = []
        for artifact in (template.get("outputs") or {}).get("artifacts") or []:
            ref = artifact.get("from")
            if artifact.get("fromExpression"):
                try:
                    ref = self.artifact_from_expression(str(artifact["fromExpression"]), arts, local)
                except PlanError as exc:
                    return self.mark(node, "Error", str(exc))
            match = ARTIFACT_REF.match(str(ref or ""))
            produced = (arts.get(match.group(1)) or self.global_artifacts.get(match.group(1))) if match else None
            if produced is None:
                if artifact.get("optional"):
                    continue
                return self.mark(node, "Error", f"Unable to resolve outputs.artifacts.{artifact.get('name')}: {ref}")
            record = {**produced, "name": artifact.get("name")}
            if artifact.get("globalName"):
                record["globalName"] = artifact["globalName"]
            artifacts.append(record)
        if artifacts:
            outputs["artifacts"] = artifacts
            self.publish_global_artifacts(artifacts)
        if outputs:
            node["outputs"] = outputs  # type: ignore[typeddict-item]
        return self.mark(node, "Succeeded", "")

    # --- loops -------------------------------------------------------------------------------------------------

    def loop_items(self, holder: Mapping[str, Any], scope: Mapping[str, str]) -> list[Any] | None:
        if "withItems" in holder:
            items = holder.get("withItems")
            if not isinstance(items, list):
                raise PlanError("withItems must be a list")
            return [expr.substitute(item, layered(scope, self.globals)) for item in items]
        if "withParam" in holder:
            text = expr.substitute(str(holder.get("withParam")), layered(scope, self.globals))
            try:
                value = json.loads(str(text))
            except ValueError as exc:
                raise PlanError(
                    f"withParam value could not be parsed as a JSON list: {str(text).strip()}: {exc}"
                ) from exc
            if not isinstance(value, list):
                raise PlanError(f"withParam value could not be parsed as a JSON list: {str(text).strip()}")
            return value
        if "withSequence" in holder:
            sequence = expr.substitute(dict(holder.get("withSequence") or {}), layered(scope, self.globals))
            return sequence_items(sequence)
        return None

    # --- implemented by the mixins in steps.py, dag.py and retry.py ------------------------------------------

    def execute_steps(
        self,
        node_name: str,
        template: Mapping[str, Any],
        tscope: TemplateScope,
        local: Mapping[str, str],
        inputs: list[InputArtifact],
        opts: Opts,
        common: Mapping[str, Any],
    ) -> NodeStatus:
        raise NotImplementedError  # steps.py

    def execute_dag(
        self,
        node_name: str,
        template: Mapping[str, Any],
        tscope: TemplateScope,
        local: Mapping[str, str],
        inputs: list[InputArtifact],
        opts: Opts,
        common: Mapping[str, Any],
    ) -> NodeStatus:
        raise NotImplementedError  # dag.py

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
        raise NotImplementedError  # retry.py
