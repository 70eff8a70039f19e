"""DAG templates (pure): dependencies/depends, targets, loops as TaskGroups, parallelism, assessDAGPhase."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

from executor.contract import InputArtifact
from executor.planning import expr
from executor.planning.core import Opts, PassCore, TemplateScope
from executor.planning.depends import DependsError, TaskOutcome, depends_of
from executor.planning.helpers import (
    PlanError,
    ancestors,
    continues_on,
    has_expression_hooks,
    is_daemoned,
    item_scope,
    layered,
    settled,
    to_int,
    topological_order,
)
from executor.status import (
    NodeStatus,
    is_failed,
    is_fulfilled,
    item_label,
)


class DagMixin(PassCore):
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
        node = self.get(node_name)
        if node is None:
            node = self.init_node(node_name, "DAG", "Running", opts, **common)
        dag = template.get("dag") or {}
        tasks: list[Mapping[str, Any]] = list(dag.get("tasks") or [])
        by_name = {str(t.get("name")): t for t in tasks}
        try:
            deps = {name: depends_of(task) for name, task in by_name.items()}
            order = topological_order(by_name, {n: (d.tasks if d else ()) for n, d in deps.items()})
        except (DependsError, PlanError) as exc:
            return self.mark(node, "Error", str(exc))
        target_text = str(expr.substitute(str(dag.get("target") or ""), layered(local, self.globals))).strip()
        if target_text:
            targets = [t for t in target_text.split() if t]
            unknown = [t for t in targets if t not in by_name]
            if unknown:
                return self.mark(node, "Error", f"target task '{unknown[0]}' does not exist in the DAG")
        else:
            depended = {dep for d in deps.values() if d for dep in d.tasks}
            targets = [name for name in by_name if name not in depended]
        needed = ancestors(targets, {n: (d.tasks if d else ()) for n, d in deps.items()})
        fail_fast = dag.get("failFast") is None or bool(dag.get("failFast"))
        inner = Opts(node["id"], node_name, opts.on_exit)
        scope: dict[str, str] = dict(local)
        arts: dict[str, Mapping[str, Any]] = self.input_artifact_scope(inputs)
        limit = template.get("parallelism")
        max_running = to_int(limit, "parallelism") if limit is not None else None
        task_nodes: dict[str, NodeStatus] = {}
        running = 0
        for name in order:
            existing = self.get(f"{node_name}.{name}")
            if existing is not None:
                task_nodes[name] = existing
                if existing.get("type") == "TaskGroup":
                    running += sum(
                        1 for c in existing.get("children") or [] if c in self.nodes and not settled(self.nodes[c])
                    )
                elif not settled(existing):
                    running += 1
        # Template parallelism: how many more task nodes (loop items included) may start this pass.
        budget = [max_running - running] if max_running is not None else None
        for name in order:
            if name not in needed:
                continue
            task = by_name[name]
            task_name = f"{node_name}.{name}"
            existing = task_nodes.get(name)
            if existing is None or not is_fulfilled(existing.get("phase")) or not self.hooks_done(existing, task):
                dependency = deps[name]
                ready = True
                outcomes: dict[str, TaskOutcome] = {}
                if dependency is not None:
                    for dep in dependency.tasks:
                        dep_node = task_nodes.get(dep)
                        if dep_node is None or not settled(dep_node) or not self.hooks_done(dep_node, by_name[dep]):
                            ready = False
                            break
                        outcomes[dep] = self.outcome(dep_node, by_name[dep])
                if existing is None:
                    if not ready:
                        continue
                    if budget is not None and budget[0] <= 0:
                        continue
                    parents = self.task_parents(dependency.tasks if dependency else (), task_nodes, node)
                    if dependency is not None and not dependency.evaluate(outcomes):
                        created = self.link(
                            self.init_node(
                                task_name,
                                "Skipped",
                                "Omitted",
                                inner,
                                template_name=str(task.get("template") or ""),
                                message="omitted: depends condition not met",
                            ),
                            parents,
                        )
                        task_nodes[name] = created
                        self.add_node_outputs("tasks", name, created, scope, arts)
                        continue
                    result = self.start_task(task_name, name, task, tscope, scope, arts, inner, parents, budget)
                    if result is not None:
                        task_nodes[name] = result
                        if not settled(result) and budget is not None and result.get("type") != "TaskGroup":
                            budget[0] -= 1
                else:
                    result = self.continue_task(task_name, name, task, tscope, scope, arts, inner, budget)
                    if result is not None:
                        task_nodes[name] = result
            current = task_nodes.get(name)
            if current is not None:
                self.add_node_outputs("tasks", name, current, scope, arts)
        phase = self.assess_dag(targets, needed, order, by_name, deps, task_nodes, fail_fast)
        if phase == "Running":
            return node
        outbound: list[str] = []
        for target in targets:
            target_node = task_nodes.get(target)
            if target_node is not None:
                outbound.extend(self.outbound_of(target_node) or [target_node["id"]])
        if outbound:
            node["outboundNodes"] = outbound
        if phase != "Succeeded":
            return self.mark(node, phase)
        return self.finish_container(node, template, scope, arts)

    def task_parents(
        self, dep_names: Iterable[str], task_nodes: Mapping[str, NodeStatus], dag_node: NodeStatus
    ) -> list[str]:
        parents: list[str] = []
        for dep in dep_names:
            dep_node = task_nodes.get(dep)
            if dep_node is not None:
                parents.extend(self.outbound_of(dep_node) or [dep_node["id"]])
        return parents or [dag_node["id"]]

    def start_task(
        self,
        task_name: str,
        name: str,
        task: Mapping[str, Any],
        tscope: TemplateScope,
        scope: Mapping[str, str],
        arts: Mapping[str, Mapping[str, Any]],
        inner: Opts,
        parents: list[str],
        budget: list[int] | None = None,
    ) -> NodeStatus | None:
        try:
            items = self.loop_items(task, layered(scope, self.globals))
        except PlanError as exc:
            return self.link(
                self.init_node(
                    task_name,
                    "Skipped",
                    "Error",
                    inner,
                    template_name=str(task.get("template") or ""),
                    message=str(exc),
                ),
                parents,
            )
        if items is not None:
            if not items:
                return self.link(
                    self.init_node(
                        task_name,
                        "Skipped",
                        "Skipped",
                        inner,
                        template_name=str(task.get("template") or ""),
                        message="Skipped, empty params",
                    ),
                    parents,
                )
            self.link(
                self.init_node(task_name, "TaskGroup", "Running", inner, template_name=str(task.get("template") or "")),
                parents,
            )
            return self.continue_task(task_name, name, task, tscope, scope, arts, inner, budget)
        first_parents = parents
        return self.run_task(task_name, task, None, tscope, scope, arts, inner, first_parents)

    def continue_task(
        self,
        task_name: str,
        name: str,
        task: Mapping[str, Any],
        tscope: TemplateScope,
        scope: Mapping[str, str],
        arts: Mapping[str, Mapping[str, Any]],
        inner: Opts,
        budget: list[int] | None = None,
    ) -> NodeStatus | None:
        node = self.get(task_name)
        if node is None:
            return None
        if node.get("type") != "TaskGroup":
            return self.run_task(task_name, task, None, tscope, scope, arts, inner, [])
        try:
            items = self.loop_items(task, layered(scope, self.globals)) or []
        except PlanError as exc:
            return self.mark(node, "Error", str(exc))
        group_opts = Opts(inner.boundary_id, inner.boundary_name, inner.on_exit)
        for index, item in enumerate(items):
            child_name = f"{task_name}({index}:{item_label(item)})"
            if budget is not None and self.get(child_name) is None:
                if budget[0] <= 0:
                    continue
                child = self.run_task(child_name, task, item, tscope, scope, arts, group_opts, [node["id"]])
                if child is not None and not settled(child):
                    budget[0] -= 1
                continue
            self.run_task(child_name, task, item, tscope, scope, arts, group_opts, [node["id"]])
        phase = "Succeeded"
        for index, item in enumerate(items):
            child = self.get(f"{task_name}({index}:{item_label(item)})")
            if child is None or not settled(child) or not self.hooks_done(child, task):
                return node
            if is_failed(child.get("phase")):
                phase = str(child.get("phase"))
        return self.mark(node, phase)

    def run_task(
        self,
        child_name: str,
        task: Mapping[str, Any],
        item: Any,
        tscope: TemplateScope,
        scope: Mapping[str, str],
        arts: Mapping[str, Mapping[str, Any]],
        opts: Opts,
        parents: list[str],
    ) -> NodeStatus | None:
        existing = self.get(child_name)
        if existing is not None and (
            (
                is_fulfilled(existing.get("phase"))
                and self.hooks_done(existing, task)
                and self.exit_started(existing, task)
            )
            or (not has_expression_hooks(task) and self.still_running(existing, opts))
        ):
            return existing
        local = layered(item_scope(item), scope, self.globals) if item is not None else layered(scope, self.globals)
        skip = ("withItems", "withParam", "withSequence", "depends", "dependencies")
        resolved_task = expr.substitute({k: v for k, v in task.items() if k not in skip}, local)
        node_opts = opts
        if existing is None:
            when = resolved_task.get("when")
            link = Opts(opts.boundary_id, opts.boundary_name, opts.on_exit, parent_id="")
            if when:
                try:
                    proceed = expr.evaluate_when(str(when))
                except expr.WhenError as exc:
                    return self.link(
                        self.init_node(
                            child_name,
                            "Skipped",
                            "Error",
                            link,
                            template_name=str(task.get("template") or ""),
                            message=str(exc),
                        ),
                        parents,
                    )
                if not proceed:
                    return self.link(
                        self.init_node(
                            child_name,
                            "Skipped",
                            "Skipped",
                            link,
                            template_name=str(task.get("template") or ""),
                            message=f"when '{when}' evaluated false",
                        ),
                        parents,
                    )
            node_opts = link
        node = self.execute(
            child_name,
            resolved_task,
            resolved_task.get("arguments") or {},
            tscope,
            node_opts,
            artifacts=arts,
            local=local,
        )
        if existing is None and node is not None:
            self.link(node, parents)
        if node is not None:
            self.run_hooks(node, task, tscope, opts, local, "tasks")
        return node

    def link(self, node: NodeStatus, parents: list[str]) -> NodeStatus:
        for parent in parents:
            self.add_child(parent, node["id"])
        return node

    def outcome(self, node: NodeStatus, task: Mapping[str, Any]) -> TaskOutcome:
        continue_on = task.get("continueOn") or {}
        any_succeeded = all_failed = False
        if node.get("type") == "TaskGroup":
            phases = [self.nodes[c].get("phase") for c in node.get("children") or [] if c in self.nodes]
            any_succeeded = any(p == "Succeeded" for p in phases)
            all_failed = bool(phases) and all(p == "Failed" for p in phases)
        return TaskOutcome(
            phase=str(node.get("phase")),
            continue_on_failed=bool(continue_on.get("failed")),
            continue_on_error=bool(continue_on.get("error")),
            any_succeeded=any_succeeded,
            all_failed=all_failed,
            daemoned=is_daemoned(node),
        )

    def assess_dag(
        self,
        targets: list[str],
        needed: set[str],
        order: list[str],
        by_name: Mapping[str, Mapping[str, Any]],
        deps: Mapping[str, Any],
        task_nodes: Mapping[str, NodeStatus],
        fail_fast: bool,
    ) -> str:
        """Argo's assessDAGPhase: Running while any task node is unfulfilled; then each target's branch phase (a
        completed task's own phase; a skipped or omitted one inherits a failed ancestor's). With failFast (the
        default) the first failed target fails the DAG even if another target was not reached yet; without, an
        unreached target keeps it Running. As in Argo v4, failFast does not stop tasks whose `depends` still hold
        from starting after a failure: the DAG is decided once nothing runs."""
        for name in order:
            node = task_nodes.get(name)
            if node is not None and (not settled(node) or not self.hooks_done(node, by_name[name])):
                return "Running"
        branch: dict[str, str] = {}
        for name in order:
            if name not in needed:
                continue
            node = task_nodes.get(name)
            dep = deps.get(name)
            inherited = "Succeeded"
            for parent in dep.tasks if dep else ():
                parent_phase = branch.get(parent, "")
                if is_failed(parent_phase):
                    inherited = parent_phase
                    break
                if parent_phase == "":
                    inherited = ""
            if node is None:
                branch[name] = ""
            elif node.get("phase") in ("Succeeded", "Failed", "Error"):
                branch[name] = str(node.get("phase"))
            else:
                branch[name] = inherited or "Succeeded"
        result = "Succeeded"
        for target in targets:
            phase = branch.get(target, "")
            if phase == "":
                result = "Running"
                if not fail_fast:
                    break
            elif is_failed(phase) and not continues_on(by_name[target], phase):
                result = phase
                if fail_fast:
                    break
        return result
