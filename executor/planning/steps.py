"""Steps templates (pure): sequential step groups of parallel steps, loops, when, group outputs."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

from executor.contract import InputArtifact
from executor.planning import expr
from executor.planning.core import Opts, PassCore, TemplateScope
from executor.planning.helpers import (
    PlanError,
    continues_on,
    has_expression_hooks,
    item_scope,
    layered,
    settled,
    step_of,
    to_int,
)
from executor.status import (
    NodeStatus,
    is_failed,
    is_fulfilled,
    item_label,
)


class StepsMixin(PassCore):
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
        node = self.get(node_name)
        if node is None:
            node = self.init_node(node_name, "Steps", "Running", opts, **common)
        scope: dict[str, str] = dict(local)
        arts: dict[str, Mapping[str, Any]] = self.input_artifact_scope(inputs)
        groups = template.get("steps") or []
        inner = Opts(node["id"], node_name, opts.on_exit)
        previous: NodeStatus | None = None
        limit = template.get("parallelism")
        for index, group in enumerate(groups):
            steps = group if isinstance(group, list) else (group or {}).get("steps") or []
            group_name = f"{node_name}[{index}]"
            group_node = self.get(group_name)
            if group_node is None:
                group_node = self.init_node(
                    group_name,
                    "StepGroup",
                    "Running",
                    Opts(node["id"], node_name, opts.on_exit, parent_id=""),
                    template_name=common["template_name"],
                    scope=tscope,
                )
                if previous is None:
                    self.add_child(node["id"], group_node["id"])
                else:
                    for outbound in self.outbound_of(previous) or [previous["id"]]:
                        self.add_child(outbound, group_node["id"])
            if not is_fulfilled(group_node.get("phase")):
                self.execute_step_group(group_node, steps, tscope, scope, arts, inner, limit)
            if not is_fulfilled(group_node.get("phase")):
                return node
            if is_failed(group_node.get("phase")):
                node["outboundNodes"] = self.outbound_of(group_node)
                return self.mark(node, "Failed", str(group_node.get("message") or ""))
            self.add_group_outputs(group_name, steps, scope, arts)
            previous = group_node
        if previous is not None:
            last_outbound = self.outbound_of(previous)
            if last_outbound:
                node["outboundNodes"] = last_outbound
        return self.finish_container(node, template, scope, arts)

    def execute_step_group(
        self,
        group: NodeStatus,
        steps: list[Mapping[str, Any]],
        tscope: TemplateScope,
        scope: dict[str, str],
        arts: dict[str, Mapping[str, Any]],
        inner: Opts,
        limit: Any,
    ) -> None:
        group_name = group["name"]
        child_opts = Opts(inner.boundary_id, inner.boundary_name, inner.on_exit, parent_id=group["id"])
        running = 0
        max_running = to_int(limit, "parallelism") if limit is not None else None
        if max_running is not None:
            for cid in group.get("children") or []:
                child = self.nodes.get(cid)
                if child is not None and not settled(child):
                    running += 1
        for step in steps:
            base = f"{group_name}.{step.get('name')}"
            try:
                items = self.loop_items(step, scope)
            except PlanError as exc:
                if self.get(base) is None:
                    self.init_node(
                        base,
                        "Skipped",
                        "Error",
                        child_opts,
                        template_name=str(step.get("template", "")),
                        message=str(exc),
                    )
                self.mark(group, "Error", str(exc))
                return
            if items is None:
                targets = [(base, None, -1)]
            else:
                targets = [(f"{base}({i}:{item_label(item)})", item, i) for i, item in enumerate(items)]
                if not items and self.get(base) is None:
                    self.init_node(
                        base,
                        "Skipped",
                        "Skipped",
                        child_opts,
                        template_name=str(step.get("template", "")),
                        message="Skipped, empty params",
                    )
            for child_name, item, _index in targets:
                existing = self.get(child_name)
                if existing is None and max_running is not None and running >= max_running:
                    continue
                created = existing is None
                self.run_step(child_name, step, item, tscope, scope, arts, child_opts)
                child = self.get(child_name)
                if created and child is not None and not settled(child):
                    running += 1
        completed = True
        steps_by_name = {s.get("name"): s for s in steps}
        for cid in group.get("children") or []:
            child = self.nodes.get(cid)
            if child is None:
                continue
            holder = steps_by_name.get(step_of(child["name"], group_name))
            if not settled(child) or not self.hooks_done(child, holder):
                completed = False
        expected = sum(1 for _ in self.step_children_names(group_name, steps, scope))
        if expected > len(group.get("children") or []):
            completed = False
        if not completed:
            return
        for cid in group.get("children") or []:
            child = self.nodes[cid]
            step = steps_by_name.get(step_of(child["name"], group_name), {})
            if is_failed(child.get("phase")) and not continues_on(step, str(child.get("phase"))):
                self.mark(group, "Failed", f"child '{cid}' failed")
                return
        self.mark(group, "Succeeded", "")

    def step_children_names(
        self, group_name: str, steps: list[Mapping[str, Any]], scope: Mapping[str, str]
    ) -> Iterable[str]:
        for step in steps:
            base = f"{group_name}.{step.get('name')}"
            try:
                items = self.loop_items(step, scope)
            except PlanError:
                yield base
                continue
            if items is None:
                yield base
            else:
                for i, item in enumerate(items):
                    yield f"{base}({i}:{item_label(item)})"

    def run_step(
        self,
        child_name: str,
        step: Mapping[str, Any],
        item: Any,
        tscope: TemplateScope,
        scope: Mapping[str, str],
        arts: Mapping[str, Mapping[str, Any]],
        opts: Opts,
    ) -> NodeStatus | None:
        existing = self.get(child_name)
        if existing is not None and (
            (
                is_fulfilled(existing.get("phase"))
                and self.hooks_done(existing, step)
                and self.exit_started(existing, step)
            )
            or (not has_expression_hooks(step) and self.still_running(existing, opts))
        ):
            return existing
        local = layered(item_scope(item), scope, self.globals) if item is not None else layered(scope, self.globals)
        resolved_step = expr.substitute(
            {k: v for k, v in step.items() if k not in ("withItems", "withParam", "withSequence")}, local
        )
        if existing is None:
            when = resolved_step.get("when")
            if when:
                try:
                    proceed = expr.evaluate_when(str(when))
                except expr.WhenError as exc:
                    return self.init_node(
                        child_name,
                        "Skipped",
                        "Error",
                        opts,
                        template_name=str(step.get("template") or ""),
                        message=str(exc),
                    )
                if not proceed:
                    return self.init_node(
                        child_name,
                        "Skipped",
                        "Skipped",
                        opts,
                        template_name=str(step.get("template") or ""),
                        message=f"when '{when}' evaluated false",
                    )
        node = self.execute(
            child_name, resolved_step, resolved_step.get("arguments") or {}, tscope, opts, artifacts=arts, local=local
        )
        if node is not None:
            self.run_hooks(node, step, tscope, opts, local, "steps")
        return node

    def add_group_outputs(
        self,
        group_name: str,
        steps: list[Mapping[str, Any]],
        scope: dict[str, str],
        arts: dict[str, Mapping[str, Any]],
    ) -> None:
        for step in steps:
            name = str(step.get("name"))
            base = f"{group_name}.{name}"
            node = self.get(base)
            if node is not None:
                self.add_node_outputs("steps", name, node, scope, arts)
                continue
            group = self.get(group_name)
            children = [self.nodes[c] for c in (group or {}).get("children") or [] if c in self.nodes]
            members = [c for c in children if c["name"].startswith(base + "(")]
            self.add_aggregate_outputs("steps", name, members, scope)
            if group is not None:  # Argo: a looped step's status/id are its step group's
                scope[f"steps.{name}.status"] = str(group.get("phase"))
                scope[f"steps.{name}.id"] = group["id"]
