"""What Argo's workflow operations do to a Workflow object (pure): the shells apply them.

`resume_workflow` is `argo resume` (clear spec.suspend, mark running Suspend nodes Succeeded with supplied
output values); `retry_status` is `argo retry` (failed steps and exit handlers run again). Used by `trellis run`
(resume from another terminal) and by the cluster commands (`trellis resume|retry NAME -n NS`).
"""

from __future__ import annotations

import copy
from collections.abc import Mapping
from datetime import datetime
from typing import Any

from executor.status import format_time, nodes_of, pack_nodes

FAILED = frozenset({"Failed", "Error"})


def resume_workflow(workflow: dict[str, Any], now: datetime, outputs: Mapping[str, Any]) -> None:
    """What `argo resume` does to the object: clear `spec.suspend`, mark running Suspend nodes Succeeded with the
    supplied output parameter values (`outputs`: {name: value}) where the node declares them."""
    spec = workflow.setdefault("spec", {})
    spec.pop("suspend", None)
    status = workflow.get("status")
    if not isinstance(status, dict):
        return
    nodes = copy.deepcopy(nodes_of(status))
    for node in nodes.values():
        if node.get("type") != "Suspend" or node.get("phase") not in {"Pending", "Running"}:
            continue
        node["phase"] = "Succeeded"
        node["finishedAt"] = format_time(now)
        params = ((node.get("outputs") or {}).get("parameters")) or []
        for p in params:
            if p.get("name") in outputs:
                p["value"] = str(outputs[p["name"]])
        if outputs and not params:
            node.setdefault("outputs", {})["parameters"] = [{"name": k, "value": str(v)} for k, v in outputs.items()]
    pack_nodes(status, nodes)


def retry_status(status: dict[str, Any]) -> tuple[dict[str, Any], list[str]]:
    """Pure: the status after `retry`, and the IDs of the Pod nodes whose Jobs must be deleted first.

    Failed/Error Pod nodes and exit-handler nodes are removed (the planner schedules them again); their failed
    ancestors go back to Running; the workflow returns to Running without finishedAt/message.
    """
    original = nodes_of(status)  # plain `nodes` or Argo's `compressedNodes`
    nodes: dict[str, dict[str, Any]] = {k: dict(v) for k, v in original.items()}
    removed = {
        node_id
        for node_id, node in nodes.items()
        if (node.get("type") == "Pod" and node.get("phase") in FAILED) or ".onExit" in str(node.get("name", ""))
    }
    for node_id in removed:
        nodes.pop(node_id)
    for node in nodes.values():
        node["children"] = [c for c in node.get("children") or [] if c not in removed]
        if not node["children"]:
            node.pop("children")
        if "outboundNodes" in node:
            node["outboundNodes"] = [c for c in node["outboundNodes"] if c not in removed]
        if node.get("phase") in FAILED:
            node["phase"] = "Running"
            node.pop("finishedAt", None)
            node.pop("message", None)
    new = {k: v for k, v in status.items() if k not in {"finishedAt", "message", "conditions"}}
    pack_nodes(new, nodes)
    new["phase"] = "Running"
    return new, sorted(removed & set(original))
