"""Cross-field checks of the four Argo kinds: everything a schema cannot say. Pure: no I/O.

`check_semantics(obj, context=...)` returns every problem found (it never stops at the first), each a FieldError
with a Kubernetes field path, what was found and how to fix it, plus warnings. It assumes nothing about types:
where the schema would already complain (a string where a list is expected), these checks skip silently, except
for the mistakes worth a dedicated message (a block string where `args` needs a list).

Cost is linear in the size of the manifest: DAG ancestor sets are computed once per DAG in topological order as
integer bitsets, so checking `tasks.X` references is O(1) each (a 5000-task DAG is checked in well under a second).
"""

from __future__ import annotations

import json
import re
import zoneinfo
from collections.abc import Mapping
from dataclasses import replace
from functools import lru_cache
from typing import Any

from webhook.errors import FieldError, FieldErrorType
from webhook.semantics import expressions
from webhook.semantics.context import ValidationContext
from webhook.semantics.depends import ITEM_RESULTS, RESULTS, DependsSyntaxError, parse_depends
from webhook.semantics.references import (
    LEAF_KINDS,
    Scope,
    Sibling,
    TemplateInfo,
    WorkflowInfo,
    is_checked,
    iter_tagged_strings,
    resolve,
    tags,
    unclosed_tag,
)
from webhook.semantics.scalars import (
    closest,
    cron_problem,
    duration_problem,
    field_name_problem,
    object_name_problem,
    param_name_problem,
    suggest,
    timezone_problem,
)

ARGO_KINDS = ("Workflow", "WorkflowTemplate", "ClusterWorkflowTemplate", "CronWorkflow")
TEMPLATE_TYPES = (
    "container",
    "script",
    "dag",
    "steps",
    "suspend",
    "resource",
    "data",
    "http",
    "plugin",
    "containerSet",
)
RETRY_POLICIES = ("Always", "OnFailure", "OnError", "OnTransientError")
CONCURRENCY_POLICIES = ("Allow", "Forbid", "Replace")
SUPPORTED_DRIVERS = ("s3", "http", "git", "raw")
UNSUPPORTED_DRIVERS = ("gcs", "oss", "azure", "hdfs", "artifactory", "plugin")
OUTPUT_SOURCES = ("path", "jqFilter", "jsonPath", "parameter", "expression", "supplied", "configMapKeyRef", "event")

# What Trellis refuses for now, and what to do instead. Keep in sync with docs/architecture.md.
UNSUPPORTED_TYPES = {
    "resource": "run kubectl in a container template instead",
    "data": "transform the data in a script template instead",
    "http": "run curl or wget in a container template instead",
    "plugin": "run the step as a container template instead",
    "containerSet": "use a steps or dag template whose steps are container templates instead",
}
UNSUPPORTED_SPEC = {
    "synchronization": "remove it; to limit how many steps run at once use spec.parallelism",
    "executorPlugins": "run the step as a container template instead",
}
UNSUPPORTED_TEMPLATE = {
    "synchronization": "remove it; to limit how many steps run at once use parallelism on the dag or steps template",
    "memoize": "remove it; the step will run every time",
    "resourceClaims": "remove them; request devices through container resources instead",
}
CLAIM_VARIABLES = (
    "workflow.name",
    "workflow.namespace",
    "workflow.uid",
    "workflow.labels.",
    "workflow.annotations.",
    "workflow.parameters.",
)
_VOLUME_NAME = re.compile(r"^[a-z0-9]([-a-z0-9]*[a-z0-9])?$")  # a pod volume name: DNS-1123 label
_CONFIGMAP_NAME = re.compile(r"^[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$")  # DNS-1123 subdomain
_CONFIGMAP_KEY = re.compile(r"^[-._a-zA-Z0-9]+$")
MAX_INLINE = 8  # inline templates nested deeper are not checked further (the schema refuses them)
HOOKS_FIX = (
    "keep only the exit hook (hooks: {{exit: {{template: ...}}}}), which runs when the {} ends, and check the "
    "status there"
)


def _m(value: Any) -> Mapping[str, Any]:
    return value if isinstance(value, dict) else {}


def _l(value: Any) -> list[Any]:
    return value if isinstance(value, list) else []


def _s(value: Any) -> str:
    return value if isinstance(value, str) else ""


def _is_tag(value: Any) -> bool:
    return isinstance(value, str) and "{{" in value


def _joined(words: list[str]) -> str:
    return words[0] if len(words) == 1 else ", ".join(words[:-1]) + " and " + words[-1]


def _not_supported(what: str, fix: str) -> str:
    verb = "are" if what.endswith("s") else "is"
    return f"{what} {verb} not supported yet by Trellis; to solve this, {fix}"


@lru_cache(maxsize=1)
def _timezones() -> frozenset[str]:
    return frozenset(zoneinfo.available_timezones())


def template_type(template: Mapping[str, Any]) -> str:
    """The template's type ("container", "dag", ...) or "" when it has none or several."""
    present = [k for k in TEMPLATE_TYPES if template.get(k) is not None]
    return present[0] if len(present) == 1 else ""


def _has_location(art: Mapping[str, Any]) -> bool:
    return any(art.get(k) is not None for k in (*SUPPORTED_DRIVERS, *UNSUPPORTED_DRIVERS))


def template_info(template: Mapping[str, Any]) -> TemplateInfo:
    inputs, outputs = _m(template.get("inputs")), _m(template.get("outputs"))

    def names(items: Any) -> frozenset[str]:
        return frozenset(_s(_m(x).get("name")) for x in _l(items)) - {""}

    out_params = [_m(p) for p in _l(outputs.get("parameters"))]
    out_arts = [_m(a) for a in _l(outputs.get("artifacts"))]
    return TemplateInfo(
        name=_s(template.get("name")),
        kind=template_type(template),
        input_parameters=names(inputs.get("parameters")),
        input_artifacts=names(inputs.get("artifacts")),
        output_parameters=names(out_params),
        output_artifacts=names(out_arts),
        output_parameter_paths=frozenset(_s(p.get("name")) for p in out_params if _m(p.get("valueFrom")).get("path")),
        output_artifact_paths=frozenset(_s(a.get("name")) for a in out_arts if a.get("path")),
        has_retry=template.get("retryStrategy") is not None,
        daemon=template.get("daemon") is True,
    )


def required_inputs(template: Mapping[str, Any]) -> tuple[list[str], list[str]]:
    """Input parameters and artifacts the caller must supply (no value, default, valueFrom or location)."""
    inputs = _m(template.get("inputs"))
    params = [
        _s(p.get("name"))
        for p in map(_m, _l(inputs.get("parameters")))
        if p.get("name") and p.get("value") is None and p.get("default") is None and p.get("valueFrom") is None
    ]
    arts = [
        _s(a.get("name"))
        for a in map(_m, _l(inputs.get("artifacts")))
        if a.get("name") and not _has_location(a) and not a.get("optional") and not a.get("from")
    ]
    return params, arts


class Checker:
    """One pass over one manifest. Use check_semantics(); this class only holds the accumulating state."""

    def __init__(self, obj: Mapping[str, Any], context: ValidationContext) -> None:
        self.obj = obj
        self.context = context
        self.kind = _s(obj.get("kind"))
        self.namespace = _s(_m(obj.get("metadata")).get("namespace"))
        self.errors: list[FieldError] = []
        self.warnings: list[str] = []
        self.templates: dict[str, Mapping[str, Any]] = {}
        self.template_paths: dict[str, str] = {}
        self.infos: dict[str, TemplateInfo] = {}
        self.defaults: Mapping[str, Any] = {}
        self.volumes: set[str] | None = None
        self.claims: set[str] = set()  # names of spec.volumeClaimTemplates: pod volumes every step may mount
        self.retry_everywhere = False
        self.input_cache: dict[int, tuple[Mapping[str, Any], list[str], list[str], frozenset[str], frozenset[str]]] = {}
        self.workflow = WorkflowInfo(frozenset(), False, frozenset(), frozenset(), False)

    # -- reporting ------------------------------------------------------------------------------------------------
    def error(self, path: str, message: str, kind: FieldErrorType = "FieldValueInvalid") -> None:
        self.errors.append(FieldError(path=path, message=message, type=kind))

    def warn(self, path: str, message: str) -> None:
        self.warnings.append(f"{path}: {message}")

    def unsupported(self, path: str, what: str, fix: str) -> None:
        self.error(path, _not_supported(what, fix), "FieldValueForbidden")

    # -- object ---------------------------------------------------------------------------------------------------
    def check(self) -> None:
        if self.kind not in ARGO_KINDS:
            return
        self.check_metadata(_m(self.obj.get("metadata")))
        spec = self.obj.get("spec")
        if not isinstance(spec, dict):
            if spec is None:
                self.error("spec", f"is required: a {self.kind} needs a spec", "FieldValueRequired")
            return
        if self.kind == "CronWorkflow":
            self.check_cron(spec)
            wf_spec = spec.get("workflowSpec")
            if not isinstance(wf_spec, dict):
                if wf_spec is None:
                    self.error(
                        "spec.workflowSpec",
                        "is required: the Workflow spec to create on each schedule",
                        "FieldValueRequired",
                    )
                return
            self.check_workflow_spec(wf_spec, "spec.workflowSpec")
        else:
            self.check_workflow_spec(spec, "spec")

    def check_metadata(self, meta: Mapping[str, Any]) -> None:
        name, generate = _s(meta.get("name")), _s(meta.get("generateName"))
        if not name and not generate:
            # A warning: `argo submit` and the API server name objects; kubectl create needs one of the two.
            self.warn("metadata.name", "is not set; kubectl needs metadata.name or metadata.generateName")
        limit, why = 63, "it is used as a label value"
        if self.kind == "CronWorkflow":
            limit, why = 52, "Argo appends a timestamp to it to name each Workflow it starts"
        if name and len(name) > limit:
            self.error(
                "metadata.name",
                f'"{name}" is {len(name)} characters long; a {self.kind} name may have at most {limit} because '
                f"{why}; to solve this, shorten it",
                "FieldValueTooLong",
            )
        elif name and (problem := object_name_problem(name)):
            self.error("metadata.name", problem)
        if generate and (problem := object_name_problem(generate + "x")):
            self.error("metadata.generateName", problem.replace(json.dumps(generate + "x"), json.dumps(generate)))

    def check_cron(self, spec: Mapping[str, Any]) -> None:
        schedule, schedules = spec.get("schedule"), spec.get("schedules")
        if schedule is not None and schedules:
            self.error(
                "spec.schedule",
                "cannot be used together with spec.schedules; to solve this, move it into schedules and remove "
                "schedule",
                "FieldValueForbidden",
            )
        elif isinstance(schedule, str):
            self.warn(
                "spec.schedule",
                f"is deprecated (Argo v4 reads only spec.schedules); write schedules: [{json.dumps(schedule)}]",
            )
            if problem := cron_problem(schedule):
                self.error("spec.schedule", self.cron_fix(problem))
        elif not schedules and schedule is None:
            self.error(
                "spec.schedules",
                'is required: give at least one cron schedule, e.g. schedules: ["0 * * * *"]',
                "FieldValueRequired",
            )
        for i, item in enumerate(_l(schedules)):
            if isinstance(item, str) and (problem := cron_problem(item)):
                self.error(f"spec.schedules[{i}]", self.cron_fix(problem))
        tz = spec.get("timezone")
        if isinstance(tz, str) and (problem := timezone_problem(tz)):
            hint = suggest(tz, _timezones())
            self.error(
                "spec.timezone",
                f"{problem}{hint or '; use a name of the IANA time zone database such as Europe/Paris or UTC'}",
                "FieldValueNotSupported",
            )
        policy = spec.get("concurrencyPolicy")
        if isinstance(policy, str) and policy and policy not in CONCURRENCY_POLICIES:
            close = [p for p in CONCURRENCY_POLICIES if p.lower() == policy.lower()]
            hint = f'; did you mean "{close[0]}"?' if close else suggest(policy, CONCURRENCY_POLICIES)
            self.error(
                "spec.concurrencyPolicy",
                f'"{policy}" is not a concurrency policy; use one of: {", ".join(CONCURRENCY_POLICIES)}{hint}',
                "FieldValueNotSupported",
            )
        deadline = spec.get("startingDeadlineSeconds")
        if isinstance(deadline, int) and not isinstance(deadline, bool) and deadline < 0:
            self.error("spec.startingDeadlineSeconds", f"{deadline} is negative; use 0 or more seconds")
        when = spec.get("when")
        if isinstance(when, str) and when.strip():
            if "{{" in when:
                self.check_tags_only("spec.when", when)
            else:
                self.check_expression("spec.when", when, language="expression")

    @staticmethod
    def cron_fix(problem: str) -> str:
        return (
            f'{problem}; use 5 fields (minute hour day-of-month month day-of-week) such as "*/5 * * * *", '
            "or a descriptor such as @hourly, @daily or @every 1h"
        )

    # -- workflow spec --------------------------------------------------------------------------------------------
    def check_workflow_spec(self, spec: Mapping[str, Any], base: str) -> None:
        templates = _l(spec.get("templates"))
        tpath = f"{base}.templates"
        self.defaults = _m(spec.get("templateDefaults"))
        self.retry_everywhere = bool(spec.get("retryStrategy") or self.defaults.get("retryStrategy"))
        # Volumes containers may mount; None when the pod spec comes from elsewhere (workflowTemplateRef).
        self.volumes = {_s(_m(v).get("name")) for v in _l(spec.get("volumes"))} - {""}
        self.claims = self.check_claim_templates(spec, base)
        self.volumes |= self.claims
        if (
            spec.get("podSpecPatch")
            or spec.get("workflowTemplateRef") is not None
            or self.kind in ("WorkflowTemplate", "ClusterWorkflowTemplate")  # the Workflow may bring volumes
        ):
            self.volumes = None
        for i, raw in enumerate(templates):
            t, path = _m(raw), f"{tpath}[{i}]"
            name = _s(t.get("name"))
            if not name:
                if isinstance(raw, dict) and not isinstance(t.get("name"), str | int):
                    self.error(f"{path}.name", "is required: every template needs a name", "FieldValueRequired")
                continue
            if problem := field_name_problem(name):
                self.error(f"{path}.name", problem)
            if name in self.templates:
                self.error(
                    f"{path}.name",
                    f'"{name}" is already used by {self.template_paths[name]}; template names must be unique',
                    "FieldValueDuplicate",
                )
                continue
            self.templates[name] = t
            self.template_paths[name] = path
            self.infos[name] = template_info(t)

        ref_spec = self.check_workflow_template_ref(spec, base, bool(templates))
        ref_templates = {_s(_m(t).get("name")) for t in _l(_m(ref_spec).get("templates"))} - {""}

        entry = spec.get("entrypoint")
        has_ref = spec.get("workflowTemplateRef") is not None
        if isinstance(entry, str) and entry:
            if has_ref:
                if ref_spec is not None and entry not in ref_templates and not _is_tag(entry):
                    self.error(
                        f"{base}.entrypoint",
                        f'template "{entry}" is not defined in the referenced template{suggest(entry, ref_templates)}',
                        "FieldValueNotFound",
                    )
            elif not _is_tag(entry):
                self.check_template_name(f"{base}.entrypoint", entry)
        elif has_ref:
            if ref_spec is not None and not _s(ref_spec.get("entrypoint")):
                self.error(
                    f"{base}.entrypoint",
                    "is required: neither this Workflow nor its workflowTemplateRef names an entrypoint",
                    "FieldValueRequired",
                )
        elif self.kind in ("Workflow", "CronWorkflow") and entry is None:
            first = next(iter(self.templates), "")
            example = f"; e.g. entrypoint: {first}" if first else ""
            self.error(
                f"{base}.entrypoint", f"is required: name the template to run first{example}", "FieldValueRequired"
            )
        on_exit = spec.get("onExit")
        if isinstance(on_exit, str) and on_exit and not has_ref and not _is_tag(on_exit):
            self.check_template_name(f"{base}.onExit", on_exit)

        for key, fix in UNSUPPORTED_SPEC.items():
            if spec.get(key):
                self.unsupported(f"{base}.{key}", key, fix)
        exit_hook = self.check_hooks(spec.get("hooks"), f"{base}.hooks", owner="workflow", check_calls=not has_ref)
        if exit_hook is not None and not has_ref:
            self.check_call(exit_hook, f"{base}.hooks[exit]")
        gc = _m(spec.get("artifactGC"))
        if _s(gc.get("strategy")) not in ("", "Never"):
            self.unsupported(
                f"{base}.artifactGC.strategy",
                f"artifact garbage collection ({gc.get('strategy')})",
                "remove artifactGC; expire artifacts with the bucket's lifecycle rules instead",
            )
        self.check_positive_int(f"{base}.parallelism", spec.get("parallelism"))
        self.check_seconds(f"{base}.activeDeadlineSeconds", spec.get("activeDeadlineSeconds"))
        ttl = _m(spec.get("ttlStrategy"))
        for key in ("secondsAfterCompletion", "secondsAfterSuccess", "secondsAfterFailure"):
            self.check_seconds(f"{base}.ttlStrategy.{key}", ttl.get(key))
        delay = _m(spec.get("podGC")).get("deleteDelayDuration")
        if delay is not None:
            self.check_duration(f"{base}.podGC.deleteDelayDuration", delay)
        if isinstance(spec.get("retryStrategy"), dict):
            self.check_retry(spec["retryStrategy"], f"{base}.retryStrategy")
        if isinstance(self.defaults.get("retryStrategy"), dict):
            self.check_retry(self.defaults["retryStrategy"], f"{base}.templateDefaults.retryStrategy")
        if self.defaults.get("timeout") is not None:
            self.check_duration(f"{base}.templateDefaults.timeout", self.defaults["timeout"])

        params = self.check_arguments(_m(spec.get("arguments")), f"{base}.arguments", workflow_level=True)
        ref_params = {_s(_m(p).get("name")) for p in _l(_m(_m(ref_spec).get("arguments")).get("parameters"))}
        global_params: set[str] = set()
        global_arts: set[str] = set()
        any_global = False
        for t in self.templates.values():
            outputs = _m(t.get("outputs"))
            for item, bucket in (
                *((p, global_params) for p in _l(outputs.get("parameters"))),
                *((a, global_arts) for a in _l(outputs.get("artifacts"))),
            ):
                global_name = _s(_m(item).get("globalName"))
                if _is_tag(global_name):
                    any_global = True
                elif global_name:
                    bucket.add(global_name)
        self.workflow = WorkflowInfo(
            parameters=frozenset(params | ref_params) - {""},
            any_parameter=self.kind in ("WorkflowTemplate", "ClusterWorkflowTemplate"),
            global_parameters=frozenset(global_params),
            global_artifacts=frozenset(global_arts),
            any_global=any_global,
            is_cron=self.kind == "CronWorkflow",
        )
        for i, raw in enumerate(_l(spec.get("volumeClaimTemplates"))):
            self.check_claim_strings(raw, f"{base}.volumeClaimTemplates[{i}]")

        for i, raw in enumerate(templates):
            if isinstance(raw, dict):
                self.check_template(raw, f"{tpath}[{i}]")

        # Inputs of the entrypoint come from spec.arguments, except for templates (given at submission).
        if self.kind in ("Workflow", "CronWorkflow"):
            entry_template: Mapping[str, Any] | None = None
            if isinstance(entry, str) and entry in self.templates and not has_ref:
                entry_template = self.templates[entry]
            elif has_ref and ref_spec is not None:
                name = _s(entry) or _s(ref_spec.get("entrypoint"))
                entry_template = next((_m(t) for t in _l(ref_spec.get("templates")) if _m(t).get("name") == name), None)
            if entry_template is not None:
                arts = {_s(_m(a).get("name")) for a in _l(_m(spec.get("arguments")).get("artifacts"))}
                arts |= {_s(_m(a).get("name")) for a in _l(_m(_m(ref_spec).get("arguments")).get("artifacts"))}
                self.check_required_inputs(
                    entry_template,
                    supplied_params=params | ref_params,
                    supplied_arts=arts,
                    path=f"{base}.arguments",
                    caller="spec.arguments (the entrypoint's inputs)",
                )
            # The exit handler gets the workflow's arguments too (Argo passes spec.arguments to it).
            if isinstance(on_exit, str) and on_exit in self.templates and not has_ref:
                self.check_required_inputs(
                    self.templates[on_exit],
                    supplied_params=params,
                    supplied_arts={_s(_m(a).get("name")) for a in _l(_m(spec.get("arguments")).get("artifacts"))},
                    path=f"{base}.arguments",
                    caller="spec.arguments (the exit handler's inputs)",
                )

    def check_workflow_template_ref(
        self, spec: Mapping[str, Any], base: str, has_templates: bool
    ) -> Mapping[str, Any] | None:
        ref = spec.get("workflowTemplateRef")
        if ref is None:
            return None
        refm, path = _m(ref), f"{base}.workflowTemplateRef"
        if has_templates:
            self.error(
                f"{base}.templates",
                "cannot be used with workflowTemplateRef (the templates come from the referenced template); "
                "to solve this, remove spec.templates or spec.workflowTemplateRef",
                "FieldValueForbidden",
            )
        name = _s(refm.get("name"))
        if not name:
            self.error(f"{path}.name", "is required: the name of the WorkflowTemplate to run", "FieldValueRequired")
            return None
        kind = "ClusterWorkflowTemplate" if refm.get("clusterScope") is True else "WorkflowTemplate"
        found = self.lookup(kind, name, f"{path}.name")
        return _m(found.get("spec")) if found is not None else None

    def lookup(self, kind: str, name: str, path: str) -> Mapping[str, Any] | None:
        if _is_tag(name):
            return None
        found = self.context.find(kind, self.namespace, name)
        if found is not None:
            return found
        if self.context.authoritative:
            where = "in the cluster" if kind == "ClusterWorkflowTemplate" else f'in namespace "{self.namespace}"'
            self.error(
                path,
                f'{kind} "{name}" does not exist {where}; to solve this, create it first or fix the name',
                "FieldValueNotFound",
            )
        else:
            self.warn(path, f'{kind} "{name}" is not among the linted files; it must exist in the cluster')
        return None

    def check_template_name(self, path: str, name: str) -> bool:
        if name in self.templates:
            return True
        hint = suggest(name, self.templates.keys())
        self.error(
            path,
            f'template "{name}" is not defined in spec.templates'
            f"{hint or '; to solve this, add a template with this name or fix the name'}",
            "FieldValueNotFound",
        )
        return False

    def check_seconds(self, path: str, value: Any) -> None:
        if isinstance(value, int) and not isinstance(value, bool) and value < 0:
            self.error(path, f"{value} is negative; use a number of seconds (0 or more)")

    def check_positive_int(self, path: str, value: Any) -> None:
        if isinstance(value, int) and not isinstance(value, bool) and value < 1:
            self.error(path, f"{value} is less than 1; use 1 or more (or remove it for no limit)")

    def check_arguments(self, args: Mapping[str, Any], path: str, *, workflow_level: bool) -> set[str]:
        """Check an `arguments` block; returns the names of the parameters it supplies."""
        names: set[str] = set()
        for i, raw in enumerate(_l(args.get("parameters"))):
            p, ppath = _m(raw), f"{path}.parameters[{i}]"
            name = _s(p.get("name"))
            if not name:
                if isinstance(raw, dict):
                    self.error(f"{ppath}.name", "is required", "FieldValueRequired")
                continue
            if problem := param_name_problem(name):
                self.error(f"{ppath}.name", problem)
            if name in names:
                self.error(f"{ppath}.name", f'"{name}" is given twice; keep one', "FieldValueDuplicate")
            names.add(name)
            value_from = _m(p.get("valueFrom"))
            if value_from:
                if value_from.get("configMapKeyRef") is not None:
                    self.check_config_map_key_ref(value_from["configMapKeyRef"], f"{ppath}.valueFrom.configMapKeyRef")
                wrong = [k for k in ("path", "jsonPath", "jqFilter", "parameter", "expression") if k in value_from]
                if wrong:
                    self.error(
                        f"{ppath}.valueFrom.{wrong[0]}",
                        "is only valid in outputs; arguments take value, or valueFrom with configMapKeyRef, "
                        "supplied or default",
                        "FieldValueForbidden",
                    )
            elif p.get("value") is None and (not workflow_level or self.kind in ("Workflow", "CronWorkflow")):
                self.error(
                    ppath,
                    f'parameter "{name}" has no value; to solve this, add value: ...',
                    "FieldValueRequired",
                )
            enum = p.get("enum")
            value = p.get("value")
            if isinstance(enum, list) and value is not None and not _is_tag(value):
                if not enum:
                    self.error(f"{ppath}.enum", "is empty; list the allowed values or remove enum")
                elif str(value) not in [str(e) for e in enum]:
                    self.error(
                        f"{ppath}.value",
                        f"{json.dumps(value)} is not one of the allowed values "
                        f"({', '.join(json.dumps(e) for e in enum)})",
                        "FieldValueNotSupported",
                    )
        seen_arts: set[str] = set()
        for i, raw in enumerate(_l(args.get("artifacts"))):
            a, apath = _m(raw), f"{path}.artifacts[{i}]"
            name = _s(a.get("name"))
            if not name:
                if isinstance(raw, dict):
                    self.error(f"{apath}.name", "is required", "FieldValueRequired")
                continue
            if problem := param_name_problem(name):
                self.error(f"{apath}.name", problem)
            if name in seen_arts:
                self.error(f"{apath}.name", f'"{name}" is given twice; keep one', "FieldValueDuplicate")
            seen_arts.add(name)
            if a.get("from") and a.get("fromExpression"):
                self.error(apath, "sets both from and fromExpression; keep only one", "FieldValueForbidden")
            elif (
                not a.get("from")
                and not a.get("fromExpression")
                and not _has_location(a)
                and not (workflow_level and self.kind in ("WorkflowTemplate", "ClusterWorkflowTemplate"))
            ):
                self.error(
                    apath,
                    f'artifact "{name}" has no source; to solve this, set from: "{{{{tasks.<task>.outputs.'
                    'artifacts.<name>}}" (or steps.<step>...), or a location such as s3, http, git or raw',
                    "FieldValueRequired",
                )
            self.check_artifact_location(a, apath)
            self.check_artifact_from(a.get("from"), f"{apath}.from")
        return names

    def check_artifact_location(self, art: Mapping[str, Any], path: str) -> None:
        for driver in UNSUPPORTED_DRIVERS:
            if art.get(driver) is not None:
                self.unsupported(
                    f"{path}.{driver}",
                    f"{driver} artifacts",
                    "use an S3-compatible store (s3), http, git or raw artifacts instead",
                )
        git = art.get("git")
        if isinstance(git, dict) and not git.get("repo"):
            self.error(f"{path}.git.repo", "is required: the URL of the repository", "FieldValueRequired")

    # -- templates ------------------------------------------------------------------------------------------------
    def check_template(
        self,
        t: Mapping[str, Any],
        path: str,
        *,
        info: TemplateInfo | None = None,
        loop: tuple[bool, frozenset[str] | None] = (False, None),
    ) -> None:
        name = _s(t.get("name"))
        present = [k for k in TEMPLATE_TYPES if t.get(k) is not None]
        if not present:
            self.error(
                path,
                f"sets no template type; add exactly one of: {', '.join(TEMPLATE_TYPES)}",
                "FieldValueRequired",
            )
        elif len(present) > 1:
            both = "both " if len(present) == 2 else ""
            self.error(path, f"sets {both}{_joined(present)}; keep exactly one of: {', '.join(TEMPLATE_TYPES)}")
        for kind in present:
            if kind in UNSUPPORTED_TYPES:
                self.unsupported(f"{path}.{kind}", f"{kind} templates", UNSUPPORTED_TYPES[kind])
        kind = present[0] if len(present) == 1 else ""
        leaf = kind in LEAF_KINDS
        for key, fix in UNSUPPORTED_TEMPLATE.items():
            if t.get(key):
                self.unsupported(f"{path}.{key}", key, fix)

        for key in ("container", "script"):
            if isinstance(t.get(key), dict):
                self.check_container(t[key], f"{path}.{key}", key, template=t, template_path=path)

        timeout = t.get("timeout")
        if timeout is not None:
            if kind and not leaf:
                self.error(
                    f"{path}.timeout",
                    f"is only valid on container and script templates, not on a {kind} template; to solve this, "
                    "set timeout on the templates it runs, or activeDeadlineSeconds on the workflow",
                    "FieldValueForbidden",
                )
            self.check_duration(f"{path}.timeout", timeout)
        deadline = t.get("activeDeadlineSeconds")
        if deadline is not None:
            if kind and not leaf and kind != "suspend":
                self.error(
                    f"{path}.activeDeadlineSeconds",
                    f"is only valid on container and script templates, not on a {kind} template; to solve this, "
                    "set it on the templates it runs, or on the workflow's spec",
                    "FieldValueForbidden",
                )
            if isinstance(deadline, int) and not isinstance(deadline, bool) and deadline < 0:
                self.error(f"{path}.activeDeadlineSeconds", f"{deadline} is negative; use a number of seconds > 0")
            elif isinstance(deadline, str) and not _is_tag(deadline) and not deadline.isdigit():
                self.error(
                    f"{path}.activeDeadlineSeconds",
                    f"{json.dumps(deadline)} is not a number of seconds; use an integer or a {{{{...}}}} variable",
                )
        if t.get("parallelism") is not None:
            if kind and kind not in ("dag", "steps"):
                self.error(
                    f"{path}.parallelism",
                    f"is only valid on dag and steps templates, not on a {kind} template; to solve this, move it "
                    "to the dag or steps template that runs this one",
                    "FieldValueForbidden",
                )
            self.check_positive_int(f"{path}.parallelism", t.get("parallelism"))
        if isinstance(t.get("retryStrategy"), dict):
            self.check_retry(t["retryStrategy"], f"{path}.retryStrategy")
        suspend = t.get("suspend")
        if isinstance(suspend, dict) and suspend.get("duration") is not None:
            value = suspend["duration"]
            if not (isinstance(value, int) or (isinstance(value, str) and value.isdigit())):
                self.check_duration(f"{path}.suspend.duration", value)

        self.check_inputs(_m(t.get("inputs")), f"{path}.inputs", kind)
        self.check_outputs(_m(t.get("outputs")), f"{path}.outputs", kind)
        if isinstance(t.get("archiveLocation"), dict):
            self.check_artifact_location(t["archiveLocation"], f"{path}.archiveLocation")

        if info is None:  # a duplicate name has its own inputs and outputs, not those of the first one
            info = self.infos[name] if self.templates.get(name) is t else template_info(t)
        if self.retry_everywhere and not info.has_retry:  # spec.retryStrategy / templateDefaults.retryStrategy
            info = replace(info, has_retry=True)
        scope = Scope(workflow=self.workflow, template=info, in_loop=loop[0], loop_keys=loop[1])
        if kind == "dag":
            self.check_dag(t, _m(t.get("dag")), path, info)
        elif kind == "steps":
            self.check_steps(t, path, info)
        else:
            body = {k: v for k, v in t.items() if k != "name"}
            self.check_strings(body, path, scope)

    def check_container(
        self, c: Mapping[str, Any], path: str, key: str, *, template: Mapping[str, Any], template_path: str
    ) -> None:
        if not c.get("image") and not _m(self.defaults.get(key)).get("image"):
            self.error(
                f"{path}.image",
                f"is required: name the image to run (or set spec.templateDefaults.{key}.image)",
                "FieldValueRequired",
            )
        if key == "script" and c.get("source") in (None, ""):
            self.error(f"{path}.source", "is required: the script to run", "FieldValueRequired")
        # Kubernetes refuses a Pod that mounts an undeclared volume or one path twice; say so at admission, not
        # when the Job is created.
        mounted: dict[str, str] = {}
        for i, raw in enumerate(_l(c.get("volumeMounts"))):
            mount, mpath = _m(raw), f"{path}.volumeMounts[{i}]"
            name, where = _s(mount.get("name")), _s(mount.get("mountPath"))
            if (
                name
                and self.volumes is not None
                and not template.get("podSpecPatch")
                and name not in self.volumes
                and not _is_tag(name)
            ):
                local = {_s(_m(v).get("name")) for v in _l(template.get("volumes"))}
                if name not in local:
                    known = self.volumes | local
                    declared = "spec.volumes, spec.volumeClaimTemplates" if self.claims else "spec.volumes"
                    self.error(
                        f"{mpath}.name",
                        f'volume "{name}" is not declared in {declared} or the template\'s volumes'
                        f"{suggest(name, known) or '; to solve this, declare it in spec.volumes'}",
                        "FieldValueNotFound",
                    )
            if where in mounted:
                self.error(
                    f"{mpath}.mountPath",
                    f'"{where}" is already mounted by {mounted[where]}; mount each path once',
                    "FieldValueDuplicate",
                )
            elif where:
                mounted[where] = f"{path}.volumeMounts[{i}]"
        for i, raw in enumerate(_l(_m(template.get("inputs")).get("artifacts"))):
            where = _s(_m(raw).get("path"))
            if where in mounted:
                self.error(
                    f"{template_path}.inputs.artifacts[{i}].path",
                    f'"{where}" is already mounted by {mounted[where]}; to solve this, place the artifact elsewhere',
                    "FieldValueDuplicate",
                )

    def check_claim_templates(self, spec: Mapping[str, Any], base: str) -> set[str]:
        """spec.volumeClaimTemplates: each becomes the claim `<workflow>-<name>` and a pod volume `<name>`
        (Argo's createPVCs), so the name must be a volume name, unique, and the claim must be one the API server
        accepts. Returns the names."""
        volumes = {_s(_m(v).get("name")): f"{base}.volumes[{i}]" for i, v in enumerate(_l(spec.get("volumes")))}
        names: dict[str, str] = {}
        for i, raw in enumerate(_l(spec.get("volumeClaimTemplates"))):
            path = f"{base}.volumeClaimTemplates[{i}]"
            claim = _m(raw)
            name = _s(_m(claim.get("metadata")).get("name"))
            if not name:
                self.error(
                    f"{path}.metadata.name",
                    "is required: name the claim template (e.g. name: workdir); steps mount it by this name",
                    "FieldValueRequired",
                )
            elif len(name) > 63 or not _VOLUME_NAME.match(name):
                self.error(
                    f"{path}.metadata.name",
                    f"\"{name}\" is not a valid volume name: use at most 63 lower-case letters, digits and '-', "
                    "starting and ending with a letter or digit",
                )
            elif name in names:
                self.error(
                    f"{path}.metadata.name",
                    f'"{name}" is already used by {names[name]}; claim template names must be unique',
                    "FieldValueDuplicate",
                )
            elif name in volumes:
                self.error(
                    f"{path}.metadata.name",
                    f'"{name}" is already a volume in {volumes[name]}; give the claim template another name',
                    "FieldValueDuplicate",
                )
            else:
                names[name] = path
            claim_spec = _m(claim.get("spec"))
            if not _l(claim_spec.get("accessModes")):
                self.error(
                    f"{path}.spec.accessModes",
                    "is required: the API server refuses a claim without one; e.g. accessModes: [ReadWriteOnce]",
                    "FieldValueRequired",
                )
            storage = _m(_m(claim_spec.get("resources")).get("requests")).get("storage")
            if storage in (None, ""):
                self.error(
                    f"{path}.spec.resources.requests.storage",
                    "is required: say how much storage the claim needs; e.g. resources: {requests: {storage: 1Gi}}",
                    "FieldValueRequired",
                )
        return set(names)

    def check_claim_strings(self, claim: Any, path: str) -> None:
        """A claim template sees only the workflow's own variables (Argo substitutes them in the spec before it
        makes the claims; the controller's executor.cluster.reconciler.claim_scope supplies the same ones)."""
        scope = Scope(workflow=self.workflow, template=template_info({}))
        for spath, text in iter_tagged_strings(claim, path):
            for raw in tags(text):
                tag = raw.strip()
                if not tag.startswith(CLAIM_VARIABLES):
                    self.error(
                        spath,
                        f"{{{{{raw}}}}} cannot be used in a volume claim template; only workflow.name, "
                        "workflow.namespace, workflow.uid, workflow.labels.*, workflow.annotations.* and "
                        "workflow.parameters.* are substituted there",
                    )
                elif problem := resolve(tag, scope):
                    self.error(spath, f"{{{{{raw}}}}} does not resolve: {problem}", "FieldValueNotFound")

    def check_duration(self, path: str, value: Any) -> None:
        if _is_tag(value):
            return
        if isinstance(value, int) and not isinstance(value, bool):
            self.error(path, f'{value} has no unit; write a duration such as "{value}s"', "FieldValueTypeInvalid")
            return
        if isinstance(value, str) and (problem := duration_problem(value)):
            example = f'"{value}s"' if value.strip().isdigit() else '"30s", "5m" or "1h30m"'
            self.error(path, f"{problem}; write a duration such as {example}")

    def check_retry(self, retry: Mapping[str, Any], path: str) -> None:
        limit = retry.get("limit")
        if isinstance(limit, int) and not isinstance(limit, bool) and limit < 0:
            self.error(f"{path}.limit", f"{limit} is negative; use 0 or more retries")
        elif isinstance(limit, str) and not _is_tag(limit) and not limit.strip().isdigit():
            self.error(f"{path}.limit", f"{json.dumps(limit)} is not a number of retries; use an integer such as 3")
        policy = retry.get("retryPolicy")
        if isinstance(policy, str) and policy and policy not in RETRY_POLICIES:
            self.error(
                f"{path}.retryPolicy",
                f'"{policy}" is not a retry policy; use one of: {", ".join(RETRY_POLICIES)}'
                f"{suggest(policy, RETRY_POLICIES)}",
                "FieldValueNotSupported",
            )
        backoff = _m(retry.get("backoff"))
        for key in ("duration", "maxDuration", "cap"):
            value = backoff.get(key)
            if value is None or (isinstance(value, str) and value.strip().isdigit()):
                continue
            if isinstance(value, int) and not isinstance(value, bool):
                if value < 0:
                    self.error(f"{path}.backoff.{key}", f"{value} is negative")
                continue
            self.check_duration(f"{path}.backoff.{key}", value)
        expression = retry.get("expression")
        if isinstance(expression, str) and expression.strip():
            self.check_expression(f"{path}.expression", expression, language="tagged")

    def check_config_map_key_ref(self, raw: Any, path: str) -> None:
        """A parameter's `valueFrom.configMapKeyRef`: a ConfigMap name and a key (either may be a {{...}} tag)."""
        if not isinstance(raw, dict):
            self.error(path, "must be an object with name and key (the ConfigMap and the key to read)")
            return
        for field, pattern, rule in (
            ("name", _CONFIGMAP_NAME, "a ConfigMap name: lowercase letters, digits, '-' and '.', at most 253"),
            ("key", _CONFIGMAP_KEY, "a ConfigMap key: letters, digits, '-', '_' and '.', at most 253"),
        ):
            value = raw.get(field)
            if value is None or value == "":
                self.error(
                    f"{path}.{field}",
                    f"is required; give the {'key in' if field == 'key' else 'name of'} the ConfigMap to read from",
                    "FieldValueRequired",
                )
            elif not isinstance(value, str):
                self.error(f"{path}.{field}", f"must be a string ({rule})")
            elif not _is_tag(value) and (len(value) > 253 or not pattern.match(value)):
                self.error(f"{path}.{field}", f'"{value}" is not valid; use {rule}')

    def check_inputs(self, inputs: Mapping[str, Any], path: str, kind: str) -> None:
        self.check_names(_l(inputs.get("parameters")), f"{path}.parameters", "input parameter")
        self.check_names(_l(inputs.get("artifacts")), f"{path}.artifacts", "input artifact")
        for i, raw in enumerate(_l(inputs.get("parameters"))):
            p = _m(raw)
            if _m(p.get("valueFrom")).get("configMapKeyRef") is not None:
                ref_path = f"{path}.parameters[{i}].valueFrom.configMapKeyRef"
                self.check_config_map_key_ref(p["valueFrom"]["configMapKeyRef"], ref_path)
            enum, default = p.get("enum"), p.get("default", p.get("value"))
            if (
                isinstance(enum, list)
                and enum
                and default is not None
                and not _is_tag(default)
                and str(default) not in [str(e) for e in enum]
            ):
                field = "default" if "default" in p else "value"
                self.error(
                    f"{path}.parameters[{i}].{field}",
                    f"{json.dumps(default)} is not one of the allowed values "
                    f"({', '.join(json.dumps(e) for e in enum)})",
                    "FieldValueNotSupported",
                )
        for i, raw in enumerate(_l(inputs.get("artifacts"))):
            a, apath = _m(raw), f"{path}.artifacts[{i}]"
            if a.get("from"):
                self.error(
                    f"{apath}.from",
                    "is not valid in inputs; to solve this, set from in the arguments of the step or task "
                    "that runs this template",
                    "FieldValueForbidden",
                )
            if kind in ("container", "script") and not a.get("path"):
                self.error(
                    f"{apath}.path",
                    "is required: where the artifact is placed in the container, e.g. /tmp/input",
                    "FieldValueRequired",
                )
            elif kind in ("dag", "steps") and a.get("path"):
                self.error(
                    f"{apath}.path",
                    f"is only valid in container and script templates, not in a {kind} template",
                    "FieldValueForbidden",
                )
            self.check_artifact_location(a, apath)
            self.check_archive(a.get("archive"), f"{apath}.archive")

    def check_outputs(self, outputs: Mapping[str, Any], path: str, kind: str) -> None:
        self.check_names(_l(outputs.get("parameters")), f"{path}.parameters", "output parameter")
        self.check_names(_l(outputs.get("artifacts")), f"{path}.artifacts", "output artifact")
        for i, raw in enumerate(_l(outputs.get("parameters"))):
            p, ppath = _m(raw), f"{path}.parameters[{i}]"
            if not isinstance(raw, dict):
                continue
            self.check_global_name(p, ppath)
            value_from = p.get("valueFrom")
            if value_from is not None and p.get("value") is not None:
                self.error(ppath, "sets both value and valueFrom; keep only one", "FieldValueForbidden")
                continue
            if p.get("value") is not None:
                continue
            if value_from is None:
                self.error(
                    f"{ppath}.valueFrom",
                    "is required: say where the value comes from, e.g. valueFrom: {path: /tmp/out.txt}",
                    "FieldValueRequired",
                )
                continue
            vf = _m(value_from)
            if isinstance(vf.get("expression"), str) and vf["expression"].strip():
                self.check_expression(f"{ppath}.valueFrom.expression", vf["expression"], language="tagged")
            sources = [k for k in OUTPUT_SOURCES if vf.get(k) not in (None, "")]
            if len(sources) > 1:
                self.error(
                    f"{ppath}.valueFrom",
                    f"sets both {_joined(sources)}; keep exactly one"
                    if len(sources) == 2
                    else f"sets {_joined(sources)}; keep exactly one",
                )
                continue
            source = sources[0] if sources else ""
            allowed = {
                "container": ("path", "path (a file the container writes)"),
                "script": ("path", "path (a file the script writes)"),
                "dag": ("parameter", "parameter or expression"),
                "steps": ("parameter", "parameter or expression"),
                "suspend": ("supplied", "supplied: {} (the value is given when resuming)"),
            }
            if kind not in allowed:
                continue
            want, text = allowed[kind]
            ok = source == want or (kind in ("dag", "steps") and source == "expression")
            if kind in ("container", "script") and source == "expression":
                ok = False
            if not source and vf.get("default") is not None and kind == "suspend":
                ok = True
            if not ok:
                found = f"uses {source}" if source else "names no source"
                self.error(f"{ppath}.valueFrom", f"{found}; a {kind} template's output parameters take {text}")
        for i, raw in enumerate(_l(outputs.get("artifacts"))):
            a, apath = _m(raw), f"{path}.artifacts[{i}]"
            if not isinstance(raw, dict):
                continue
            self.check_global_name(a, apath)
            for driver in ("git", "raw"):
                if a.get(driver) is not None:
                    self.unsupported(
                        f"{apath}.{driver}",
                        f"{driver} output artifacts",
                        "let the artifact go to the artifact repository (s3), or give it an s3 or http location",
                    )
            if kind in ("container", "script") and not a.get("path"):
                self.error(
                    f"{apath}.path",
                    "is required: the file or directory the container writes, e.g. /tmp/output",
                    "FieldValueRequired",
                )
            elif kind in ("dag", "steps"):
                if a.get("path"):
                    self.error(
                        f"{apath}.path",
                        f"is only valid in container and script templates, not in a {kind} template; "
                        f'to solve this, use from: "{{{{tasks.<task>.outputs.artifacts.<name>}}}}"',
                        "FieldValueForbidden",
                    )
                elif not a.get("from") and not a.get("fromExpression"):
                    self.error(
                        f"{apath}.from",
                        f"is required: a {kind} template's output artifact names the step output it returns",
                        "FieldValueRequired",
                    )
            self.check_artifact_location(a, apath)
            self.check_archive(a.get("archive"), f"{apath}.archive")
            if kind in ("dag", "steps"):
                self.check_artifact_from(a.get("from"), f"{apath}.from")

    def check_artifact_from(self, value: Any, path: str) -> None:
        """`from` is one `{{...}}` reference to an artifact (it resolves like any reference, elsewhere)."""
        if not isinstance(value, str) or not value:
            return
        body = value.strip()
        if not (body.startswith("{{") and body.endswith("}}") and body.count("{{") == 1):
            self.error(
                path,
                f"{json.dumps(value)} is not one {{{{...}}}} reference; to solve this, write e.g. "
                f'from: "{{{{tasks.<task>.outputs.artifacts.<name>}}}}"',
            )
            return
        tag = body[2:-2].strip()
        if not tag.startswith("=") and is_checked(tag) and ".artifacts." not in f".{tag}":
            self.error(
                path,
                f"{json.dumps(value)} does not name an artifact; from takes an artifact "
                "(tasks.<task>.outputs.artifacts.<name>, steps.<step>..., inputs.artifacts.<name> or "
                "workflow.outputs.artifacts.<name>); to pass a value, use arguments.parameters",
            )

    def check_global_name(self, item: Mapping[str, Any], path: str) -> None:
        name = item.get("globalName")
        if isinstance(name, str) and name and not _is_tag(name) and (problem := param_name_problem(name)):
            self.error(f"{path}.globalName", problem)

    def check_archive(self, archive: Any, path: str) -> None:
        if not isinstance(archive, dict):
            return
        modes = [k for k in ("none", "tar", "zip") if archive.get(k) is not None]
        if len(modes) > 1:
            self.error(path, f"sets both {_joined(modes)}; keep exactly one of: none, tar, zip")
        elif not modes and archive:
            self.error(path, "names no archive strategy; use one of: none: {}, tar: {}", "FieldValueRequired")
        if archive.get("zip") is not None:
            self.unsupported(f"{path}.zip", "zip archives", "use tar (the default) or none")
        level = _m(archive.get("tar")).get("compressionLevel")
        if isinstance(level, int) and not isinstance(level, bool) and not -1 <= level <= 9:
            self.error(
                f"{path}.tar.compressionLevel",
                f"{level} is out of range; use -1 (default) to 9 (0: no compression, 9: smallest)",
            )

    def check_names(self, items: list[Any], path: str, noun: str) -> None:
        seen: dict[str, int] = {}
        for i, raw in enumerate(items):
            if not isinstance(raw, dict):
                continue
            name = raw.get("name")
            if not isinstance(name, str) or not name:
                if name is None:
                    self.error(f"{path}[{i}].name", f"is required: every {noun} needs a name", "FieldValueRequired")
                continue
            if problem := param_name_problem(name):
                self.error(f"{path}[{i}].name", problem)
            if name in seen:
                self.error(
                    f"{path}[{i}].name",
                    f'"{name}" is already used by {path}[{seen[name]}]; {noun} names must be unique',
                    "FieldValueDuplicate",
                )
            else:
                seen[name] = i

    # -- references -----------------------------------------------------------------------------------------------
    def check_strings(self, value: Any, path: str, scope: Scope) -> None:
        for spath, text in iter_tagged_strings(value, path):
            if unclosed_tag(text):
                self.error(spath, f"has an unclosed {{{{ in {json.dumps(_short(text))}; close it with }}}}")
            for raw in tags(text):
                tag = raw.strip()
                if tag.startswith("="):
                    if problem := expressions.expression_problem(tag[1:]):
                        self.error(spath, f"{{{{{raw}}}}} is not a valid expression: {problem}")
                        continue
                    for variable in expressions.expression_variables(tag[1:]):
                        if problem := resolve(variable, scope):
                            self.error(
                                spath,
                                f"{{{{{raw}}}}} reads {variable}, which does not resolve: {problem}",
                                "FieldValueNotFound",
                            )
                elif is_checked(tag) and (problem := resolve(tag, scope)):
                    self.error(spath, f"{{{{{raw}}}}} does not resolve: {problem}", "FieldValueNotFound")

    def check_node_strings(self, node: Mapping[str, Any], path: str, scope: Scope) -> None:
        """A step's or task's strings; its inline template was checked as a template, and its exit hook may also
        read the step's or task's own outputs (it runs after it)."""
        self.check_strings(_without(_without(node, "inline"), "hooks"), path, scope)
        hooks = node.get("hooks")
        exit_hook = hooks.get("exit") if isinstance(hooks, dict) else None
        if isinstance(exit_hook, dict):
            outer = scope.visible
            scope = replace(scope, visible=lambda other: "" if other == scope.node_name else outer(other))
            self.check_strings(exit_hook, f"{path}.hooks[exit]", scope)

    def check_expression(self, path: str, text: str, *, language: str) -> None:
        """`language`: "when" (govaluate after substitution), "expression" (expr-lang, no tags) or "tagged"
        (expr-lang with simple tags, e.g. valueFrom.expression)."""
        checks = {
            "when": expressions.when_problem,
            "expression": expressions.expression_problem,
            "tagged": expressions.expression_with_tags_problem,
        }
        if problem := checks[language](text):
            noun = "condition" if language == "when" else "expression"
            self.error(path, f"{json.dumps(text)} is not a valid {noun}: {problem}")

    def check_tags_only(self, path: str, text: str) -> None:
        """Only the `{{= ...}}` tags of a string that has no template scope (a CronWorkflow's when)."""
        for raw in tags(text):
            tag = raw.strip()
            if tag.startswith("=") and (problem := expressions.expression_problem(tag[1:])):
                self.error(path, f"{{{{{tag}}}}} is not a valid expression: {problem}")

    # -- calls: steps and tasks -----------------------------------------------------------------------------------
    def check_call(self, node: Mapping[str, Any], path: str) -> TemplateInfo | None:
        """Template reference, loops, arguments and required inputs of one step or task; returns the callee."""
        exit_hook = self.check_hooks(node.get("hooks"), f"{path}.hooks")
        if exit_hook is not None:
            self.check_call(exit_hook, f"{path}.hooks[exit]")
        refs = [k for k in ("template", "templateRef", "inline") if node.get(k)]
        callee: Mapping[str, Any] | None = None
        callee_info: TemplateInfo | None = None
        if len(refs) > 1:
            self.error(path, f"sets both {_joined(refs)}; keep exactly one", "FieldValueForbidden")
        elif not refs:
            self.error(
                f"{path}.template",
                "is required: name the template to run (or use templateRef)",
                "FieldValueRequired",
            )
        elif refs[0] == "template":
            name = _s(node.get("template"))
            if name and not _is_tag(name) and self.check_template_name(f"{path}.template", name):
                callee, callee_info = self.templates[name], self.infos[name]
        elif refs[0] == "templateRef":
            callee = self.resolve_template_ref(_m(node.get("templateRef")), f"{path}.templateRef")
            callee_info = template_info(callee) if callee is not None else None
        elif refs[0] == "inline" and isinstance(node.get("inline"), dict) and path.count(".inline") < MAX_INLINE:
            callee = {**node["inline"], "name": _s(node.get("name")) or "inline"}
            callee_info = template_info(callee)
            self.check_template(callee, f"{path}.inline", info=callee_info, loop=self.loop_scope(node))

        loops = [k for k in ("withItems", "withParam", "withSequence") if node.get(k) is not None]
        if len(loops) > 1:
            self.error(
                path,
                f"sets both {_joined(loops)}; keep only one of: withItems, withParam, withSequence",
                "FieldValueForbidden",
            )
        with_param = node.get("withParam")
        if isinstance(with_param, str) and not _is_tag(with_param):
            try:
                items = json.loads(with_param)
            except ValueError:
                items = None
            if not isinstance(items, list):
                self.error(
                    f"{path}.withParam",
                    f"{json.dumps(_short(with_param))} is neither a JSON list nor a {{{{...}}}} reference to one; to "
                    'solve this, use withItems for a fixed list, or e.g. withParam: "{{steps.gen.outputs.result}}"',
                )
        seq = node.get("withSequence")
        if isinstance(seq, dict):
            if seq.get("count") is not None and seq.get("end") is not None:
                self.error(f"{path}.withSequence", "sets both count and end; keep only one", "FieldValueForbidden")
            elif seq.get("count") is None and seq.get("end") is None:
                self.error(
                    f"{path}.withSequence",
                    'needs count or end, e.g. withSequence: {count: "5"}',
                    "FieldValueRequired",
                )
            for key in ("count", "start", "end"):
                value = seq.get(key)
                if isinstance(value, str) and not _is_tag(value) and not value.strip().lstrip("-").isdigit():
                    self.error(f"{path}.withSequence.{key}", f"{json.dumps(value)} is not an integer")
        when = node.get("when")
        if isinstance(when, str) and when.strip():
            self.check_expression(f"{path}.when", when, language="when")
        on_exit = node.get("onExit")
        if isinstance(on_exit, str) and on_exit and not _is_tag(on_exit):
            self.check_template_name(f"{path}.onExit", on_exit)

        args = _m(node.get("arguments"))
        supplied = self.check_arguments(args, f"{path}.arguments", workflow_level=False)
        if callee is not None:
            arts = {_s(_m(a).get("name")) for a in _l(args.get("artifacts"))}
            self.check_required_inputs(
                callee,
                supplied_params=supplied,
                supplied_arts=arts,
                path=f"{path}.arguments",
                caller=(
                    "the exit hook"
                    if path.endswith("hooks[exit]")
                    else f'{"task" if ".tasks[" in path else "step"} "{_s(node.get("name"))}"'
                ),
                arguments=args,
            )
        return callee_info

    def check_hooks(
        self, hooks: Any, path: str, *, owner: str = "step", check_calls: bool = True
    ) -> Mapping[str, Any] | None:
        """Expression hooks (any name but `exit`) need an `expression` that parses and a template that exists, as
        Argo's lifecycle hooks; returns the exit hook for the caller to check."""
        if not isinstance(hooks, dict):
            return None
        for key, hook in hooks.items():
            if key == "exit" or not isinstance(hook, dict):
                continue
            expression = hook.get("expression")
            if not isinstance(expression, str) or not expression.strip():
                self.error(
                    f"{path}[{key}].expression",
                    f'is required: a hook other than "exit" runs when its expression becomes true (e.g. '
                    f'expression: {"workflow" if owner == "workflow" else "steps.NAME"}.status == "Running"); '
                    f"or {HOOKS_FIX.format(owner)}",
                    "FieldValueRequired",
                )
            else:
                self.check_expression(f"{path}[{key}].expression", expression, language="tagged")
            if check_calls:
                self.check_call(hook, f"{path}[{key}]")
        exit_hook = hooks.get("exit")
        return exit_hook if isinstance(exit_hook, dict) else None

    def resolve_template_ref(self, ref: Mapping[str, Any], path: str) -> Mapping[str, Any] | None:
        name, template = _s(ref.get("name")), _s(ref.get("template"))
        if not name:
            self.error(
                f"{path}.name", "is required: the WorkflowTemplate to take the template from", "FieldValueRequired"
            )
        if not template:
            self.error(f"{path}.template", "is required: the name of the template to run", "FieldValueRequired")
        if not name or not template or _is_tag(template):
            return None
        kind = "ClusterWorkflowTemplate" if ref.get("clusterScope") is True else "WorkflowTemplate"
        found = self.lookup(kind, name, f"{path}.name")
        if found is None:
            return None
        templates = {_s(_m(t).get("name")): _m(t) for t in _l(_m(found.get("spec")).get("templates"))}
        if template not in templates:
            hint = suggest(template, templates.keys())
            self.error(
                f"{path}.template",
                f'{kind} "{name}" has no template "{template}"{hint}',
                "FieldValueNotFound",
            )
            return None
        return templates[template]

    def check_required_inputs(
        self,
        template: Mapping[str, Any],
        *,
        supplied_params: set[str],
        supplied_arts: set[str],
        path: str,
        caller: str,
        arguments: Mapping[str, Any] | None = None,
    ) -> None:
        """Inputs without a value or default must be supplied. With `arguments` (a step's or task's), arguments
        the template does not declare get a warning: Argo ignores them, which usually hides a typo."""
        # One template is called by thousands of tasks: read its inputs once. The cache holds the template itself,
        # so its id() cannot be reused by another object while cached.
        cached = self.input_cache.get(id(template))
        if cached is None or cached[0] is not template:
            inputs = _m(template.get("inputs"))
            cached = (
                template,
                *required_inputs(template),
                frozenset(_s(_m(x).get("name")) for x in _l(inputs.get("parameters"))),
                frozenset(_s(_m(x).get("name")) for x in _l(inputs.get("artifacts"))),
            )
            self.input_cache[id(template)] = cached
        _, params, arts, declared_params, declared_arts = cached
        name = _s(template.get("name"))
        for p in params:
            if p not in supplied_params:
                typo = closest(p, supplied_params - declared_params)
                typo = f' (it gives "{typo}": a misspelling?)' if typo else ""
                self.error(
                    f"{path}.parameters",
                    f'template "{name}" needs input parameter "{p}", which {caller} does not supply'
                    f"{typo}; to solve this, add {{name: {p}, value: "
                    "...} here (or give the input a default)",
                    "FieldValueRequired",
                )
        for a in arts:
            if a not in supplied_arts:
                typo = closest(a, supplied_arts - declared_arts)
                typo = f' (it gives "{typo}": a misspelling?)' if typo else ""
                self.error(
                    f"{path}.artifacts",
                    f'template "{name}" needs input artifact "{a}", which {caller} does not supply'
                    f"{typo}; to solve this, add {{name: {a}, from: "
                    "...} here (or make the input optional)",
                    "FieldValueRequired",
                )
        if arguments is None:
            return
        for kind, declared, noun in (
            ("parameters", declared_params, "input parameter"),
            ("artifacts", declared_arts, "input artifact"),
        ):
            for i, raw in enumerate(_l(arguments.get(kind))):
                given = _s(_m(raw).get("name"))
                if given and given not in declared:
                    self.warn(
                        f"{path}.{kind}[{i}]",
                        f'template "{name}" declares no {noun} "{given}", so this argument is ignored'
                        f"{suggest(given, declared - {''})}",
                    )

    def loop_scope(self, node: Mapping[str, Any]) -> tuple[bool, frozenset[str] | None]:
        items = node.get("withItems")
        if isinstance(items, list) and items:
            if all(isinstance(x, dict) for x in items):
                return True, frozenset(k for x in items for k in x)
            return True, None
        if node.get("withParam") is not None or node.get("withSequence") is not None or items is not None:
            return True, None
        return False, None

    def check_dag(self, t: Mapping[str, Any], dag: Mapping[str, Any], path: str, info: TemplateInfo) -> None:
        tasks = [_m(x) for x in _l(dag.get("tasks"))]
        tpath = f"{path}.dag.tasks"
        if not tasks and isinstance(dag.get("tasks"), list | type(None)):
            self.error(tpath, "is empty: a DAG needs at least one task", "FieldValueRequired")
        index: dict[str, int] = {}
        for j, task in enumerate(tasks):
            name = _s(task.get("name"))
            if not name:
                self.error(f"{tpath}[{j}].name", "is required: every task needs a name", "FieldValueRequired")
                continue
            if problem := field_name_problem(name):
                self.error(f"{tpath}[{j}].name", problem)
            if name in index:
                self.error(
                    f"{tpath}[{j}].name",
                    f'"{name}" is already used by {tpath}[{index[name]}]; task names must be unique in a DAG',
                    "FieldValueDuplicate",
                )
            else:
                index[name] = j
        depends_at = next((j for j, task in enumerate(tasks) if _s(task.get("depends")).strip()), None)
        using_depends = depends_at is not None
        looped = [self.loop_scope(task)[0] for task in tasks]
        edges: list[list[int]] = [[] for _ in tasks]
        unreadable: set[int] = set()
        for j, task in enumerate(tasks):
            p = f"{tpath}[{j}]"
            name = _s(task.get("name"))
            dependencies = [d for d in _l(task.get("dependencies")) if isinstance(d, str)]
            if name and name[0].isdigit() and (using_depends or dependencies):
                self.error(
                    f"{p}.name",
                    f'"{name}" starts with a digit, which depends and dependencies cannot refer to; to solve this, '
                    "rename it to start with a letter",
                )
            if using_depends and dependencies:
                self.error(
                    f"{p}.dependencies",
                    f"cannot be mixed with depends in the same DAG ({tpath}[{depends_at}] uses depends); to solve "
                    f"this, write depends: {json.dumps(' && '.join(dependencies))}",
                    "FieldValueForbidden",
                )
            if using_depends and task.get("continueOn") is not None:
                self.error(
                    f"{p}.continueOn",
                    'cannot be used in a DAG that uses depends; to solve this, write e.g. "a.Failed" or '
                    '"a.Errored" in the depends of the tasks that follow',
                    "FieldValueForbidden",
                )
            for k, dep in enumerate(dependencies):
                if dep not in index:
                    self.error(
                        f"{p}.dependencies[{k}]",
                        f'task "{dep}" is not defined in this DAG{suggest(dep, index.keys(), listing="its tasks")}',
                        "FieldValueNotFound",
                    )
                elif index[dep] not in edges[j]:
                    edges[j].append(index[dep])
            depends = task.get("depends")
            if isinstance(depends, str) and depends.strip():
                try:
                    operands = parse_depends(depends)
                except DependsSyntaxError as exc:
                    self.error(
                        f"{p}.depends",
                        f"cannot parse {json.dumps(depends)}: {exc}; write task names joined by &&, || and !, "
                        'e.g. "a && (b.Succeeded || c.Failed)"',
                    )
                    operands = ()
                    unreadable.add(j)  # its ancestors are unknown: do not report references through it
                else:
                    # The planner parses with webhook.expressions: accept nothing it would refuse.
                    problem = expressions.depends_problem(depends)
                    if problem and "unknown task result" not in problem:
                        self.error(f"{p}.depends", f"cannot parse {json.dumps(depends)}: {problem}")
                for op in operands:
                    if op.task not in index:
                        self.error(
                            f"{p}.depends",
                            f'task "{op.task}" is not defined in this DAG'
                            f"{suggest(op.task, index.keys(), listing='its tasks')}",
                            "FieldValueNotFound",
                        )
                        continue
                    if op.result and op.result not in RESULTS:
                        self.error(
                            f"{p}.depends",
                            f'"{op.task}.{op.result}" uses an unknown task result "{op.result}"; use one of: '
                            f"{', '.join(RESULTS)}{suggest(op.result, RESULTS)}",
                            "FieldValueNotSupported",
                        )
                    elif op.result in ITEM_RESULTS and not looped[index[op.task]]:
                        self.error(
                            f"{p}.depends",
                            f'"{op.task}.{op.result}" needs task "{op.task}" to loop (withItems, withParam or '
                            f"withSequence); to solve this, use {op.task}.Succeeded or {op.task}.Failed",
                        )
                    if index[op.task] not in edges[j]:
                        edges[j].append(index[op.task])
        dep_field = "depends" if using_depends else "dependencies"
        in_cycle = self.report_cycles(tasks, edges, tpath, dep_field)
        ancestors = _ancestors(edges, in_cycle | unreadable)

        siblings: dict[str, Sibling] = {}
        callees: list[TemplateInfo | None] = []
        for j, task in enumerate(tasks):
            callee = self.check_call(task, f"{tpath}[{j}]")
            callees.append(callee)
            name = _s(task.get("name"))
            if name and index.get(name) == j:
                siblings[name] = Sibling(template=callee, looped=looped[j])

        target = dag.get("target")
        if isinstance(target, str) and not _is_tag(target):
            for name in target.split():
                if name not in index:
                    self.error(
                        f"{path}.dag.target",
                        f'task "{name}" is not defined in this DAG{suggest(name, index.keys(), listing="its tasks")}',
                        "FieldValueNotFound",
                    )

        for j, task in enumerate(tasks):
            name = _s(task.get("name"))
            anc = ancestors[j]

            def visible(other: str, anc: int = anc, name: str = name, j: int = j) -> str:
                k = index[other]
                if (anc >> k) & 1:
                    return ""
                if k == j:
                    return (
                        f'task "{name}" cannot read its own outputs; to solve this, read them in a task that depends '
                        "on it"
                    )
                if (ancestors[k] >> j) & 1:
                    return (
                        f'task "{other}" runs after task "{name}" (it depends on it), so its outputs do not exist yet; '
                        f'to solve this, read them in a task that depends on "{other}"'
                    )
                return (
                    f'task "{other}" is not an ancestor of task "{name}"; to solve this, add "{other}" to its '
                    f"{dep_field}"
                )

            in_loop, keys = self.loop_scope(task)
            scope = Scope(
                workflow=self.workflow,
                template=info,
                node_kind="tasks",
                node_name=name,
                in_loop=in_loop,
                loop_keys=keys,
                siblings=siblings,
                visible=visible,
            )
            self.check_node_strings(task, f"{tpath}[{j}]", scope)
        rest = {k: v for k, v in t.items() if k not in ("name", "dag")}
        rest["dag"] = {k: v for k, v in dag.items() if k != "tasks"}
        outer = Scope(workflow=self.workflow, template=info, siblings=siblings)
        self.check_strings(rest, path, outer)
        self.check_output_expressions(t, path, outer)

    def report_cycles(self, tasks: list[Mapping[str, Any]], edges: list[list[int]], tpath: str, field: str) -> set[int]:
        """Report each strongly connected component with a cycle once, naming one cycle; returns its members."""
        members: set[int] = set()
        for component in _strongly_connected(edges):
            if len(component) == 1 and component[0] not in edges[component[0]]:
                continue
            members.update(component)
            start = min(component)
            cycle = _find_cycle(start, edges, set(component))
            names = " -> ".join(_s(tasks[k].get("name")) for k in cycle)
            self.error(
                f"{tpath}[{start}].{field}",
                f"dependency cycle: {names}; to solve this, remove one of these dependencies",
            )
        return members

    def check_steps(self, t: Mapping[str, Any], path: str, info: TemplateInfo) -> None:
        groups = t.get("steps")
        if not isinstance(groups, list):
            return
        group_of: dict[str, int] = {}
        where: dict[str, str] = {}
        siblings: dict[str, Sibling] = {}
        valid: list[tuple[int, int, Mapping[str, Any]]] = []
        for g, group in enumerate(groups):
            gpath = f"{path}.steps[{g}]"
            if isinstance(group, dict):
                self.error(
                    gpath,
                    "is a single step, but steps is a list of step groups (each a list of steps run in parallel); "
                    'to solve this, write "- - name: ..." (two dashes) to put the step in a group of its own',
                    "FieldValueTypeInvalid",
                )
                continue
            if not isinstance(group, list):
                continue
            for k, step in enumerate(group):
                spath = f"{gpath}[{k}]"
                if not isinstance(step, dict):
                    if isinstance(step, list):
                        self.error(
                            spath,
                            "is a list, but a step group holds steps; to solve this, remove one level of dashes",
                            "FieldValueTypeInvalid",
                        )
                    continue
                name = _s(step.get("name"))
                if not name:
                    self.error(f"{spath}.name", "is required: every step needs a name", "FieldValueRequired")
                elif (problem := field_name_problem(name)) and not _is_tag(name):
                    self.error(f"{spath}.name", problem)
                if name in group_of:
                    self.error(
                        f"{spath}.name",
                        f'"{name}" is already used by {where[name]}; step names must be unique in a template',
                        "FieldValueDuplicate",
                    )
                elif name:
                    group_of[name], where[name] = g, spath
                valid.append((g, k, step))
        for g, k, step in valid:
            spath = f"{path}.steps[{g}][{k}]"
            callee = self.check_call(step, spath)
            name = _s(step.get("name"))
            if name and where.get(name) == spath:
                siblings[name] = Sibling(template=callee, looped=self.loop_scope(step)[0])
        for g, k, step in valid:

            def visible(other: str, g: int = g) -> str:
                if group_of[other] < g:
                    return ""
                if group_of[other] == g:
                    return (
                        f'step "{other}" runs in the same step group as this one (group {g}), in parallel; only '
                        f'steps of earlier groups can be referenced; to solve this, move "{other}" to an earlier group'
                    )
                return (
                    f'step "{other}" runs in step group {group_of[other]}, not before this step\'s group {g}; only '
                    f'steps of earlier groups can be referenced; to solve this, move "{other}" to an earlier group'
                )

            in_loop, keys = self.loop_scope(step)
            scope = Scope(
                workflow=self.workflow,
                template=info,
                node_kind="steps",
                node_name=_s(step.get("name")),
                in_loop=in_loop,
                loop_keys=keys,
                siblings=siblings,
                visible=visible,
            )
            self.check_node_strings(step, f"{path}.steps[{g}][{k}]", scope)
        rest = {key: v for key, v in t.items() if key not in ("name", "steps")}
        outer = Scope(workflow=self.workflow, template=info, siblings=siblings)
        self.check_strings(rest, path, outer)
        self.check_output_expressions(t, path, outer)

    def check_output_expressions(self, t: Mapping[str, Any], path: str, scope: Scope) -> None:
        """The variables a dag/steps template's `valueFrom.expression` outputs read (its tasks or steps)."""
        for i, raw in enumerate(_l(_m(t.get("outputs")).get("parameters"))):
            expression = _m(_m(raw).get("valueFrom")).get("expression")
            if not isinstance(expression, str) or expressions.expression_with_tags_problem(expression):
                continue
            for variable in expressions.expression_variables(expression, tagged=True):
                if problem := resolve(variable, scope):
                    self.error(
                        f"{path}.outputs.parameters[{i}].valueFrom.expression",
                        f"reads {variable}, which does not resolve: {problem}",
                        "FieldValueNotFound",
                    )


def _without(node: Mapping[str, Any], key: str) -> Mapping[str, Any]:
    """`node` without `key` (refused parts are not checked further: one message per problem)."""
    return {k: v for k, v in node.items() if k != key} if key in node else node


def _short(text: str) -> str:
    return text if len(text) <= 60 else text[:57] + "..."


def _strongly_connected(edges: list[list[int]]) -> list[list[int]]:
    """Tarjan's algorithm, iterative (no recursion limit for 5000-task chains)."""
    n = len(edges)
    index = [-1] * n
    low = [0] * n
    on_stack = [False] * n
    stack: list[int] = []
    result: list[list[int]] = []
    counter = 0
    for root in range(n):
        if index[root] != -1:
            continue
        work = [(root, 0)]
        while work:
            v, i = work.pop()
            if i == 0:
                index[v] = low[v] = counter
                counter += 1
                stack.append(v)
                on_stack[v] = True
            recurse = False
            for k in range(i, len(edges[v])):
                w = edges[v][k]
                if index[w] == -1:
                    work.append((v, k + 1))
                    work.append((w, 0))
                    recurse = True
                    break
                if on_stack[w]:
                    low[v] = min(low[v], index[w])
            if recurse:
                continue
            if low[v] == index[v]:
                component: list[int] = []
                while True:
                    w = stack.pop()
                    on_stack[w] = False
                    component.append(w)
                    if w == v:
                        break
                result.append(component)
            if work:
                parent = work[-1][0]
                low[parent] = min(low[parent], low[v])
    return result


def _find_cycle(start: int, edges: list[list[int]], members: set[int]) -> list[int]:
    """A shortest cycle through `start` within `members` (BFS), as task indexes from start back to start."""
    previous: dict[int, int] = {}
    frontier = [start]
    seen = {start}
    while frontier:
        following: list[int] = []
        for v in frontier:
            for w in edges[v]:
                if w == start:
                    path = [v]
                    while path[-1] != start:
                        path.append(previous[path[-1]])
                    return [start, *reversed(path[:-1]), start] if v != start else [start, start]
                if w in members and w not in seen:
                    seen.add(w)
                    previous[w] = v
                    following.append(w)
        frontier = following
    return [start, start]


def _ancestors(edges: list[list[int]], unknown: set[int]) -> list[int]:
    """Ancestor bitsets in topological order (Kahn). Tasks in `unknown` (in a cycle, or with an unreadable
    depends) and the tasks after them see everything: their problem is reported already, once."""
    n = len(edges)
    everything = (1 << n) - 1
    pending = [len(deps) for deps in edges]
    users: list[list[int]] = [[] for _ in range(n)]
    for j, deps in enumerate(edges):
        for d in deps:
            users[d].append(j)
    ancestors = [0] * n
    done = [False] * n
    ready = [j for j in range(n) if pending[j] == 0]
    while ready:
        j = ready.pop()
        done[j] = True
        bits = 0
        for d in edges[j]:
            bits |= ancestors[d] | (1 << d)
        ancestors[j] = everything if j in unknown else bits
        for u in users[j]:
            pending[u] -= 1
            if pending[u] == 0:
                ready.append(u)
    for j in range(n):
        if not done[j] or j in unknown:
            ancestors[j] = everything
    return ancestors


def check_semantics(
    obj: Mapping[str, Any], *, context: ValidationContext | None = None
) -> tuple[list[FieldError], list[str]]:
    """Every semantic error and warning of one manifest of the four Argo kinds (others: none). Pure."""
    if not isinstance(obj, Mapping):
        return [], []  # the schema check says what it should be
    checker = Checker(obj, context or ValidationContext())
    checker.check()
    return list(dict.fromkeys(checker.errors)), list(dict.fromkeys(checker.warnings))
