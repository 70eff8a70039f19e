"""What validation may know beyond the object itself: other templates. Pure data, no I/O."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

TemplateResolver = Callable[[str, str, str], Mapping[str, Any] | None]
"""resolve_template(kind, namespace, name) -> the WorkflowTemplate/ClusterWorkflowTemplate manifest, or None."""


@dataclass(frozen=True)
class ValidationContext:
    """Other manifests validation may consult.

    `manifests`: WorkflowTemplates / ClusterWorkflowTemplates known by (kind, name), e.g. every one given to the
    same `trellis lint` call. `resolve_template`: a lookup the webhook provides when serving against a cluster
    (called only for names not in `manifests`). `authoritative`: True when a template that cannot be found does
    not exist (cluster: an error); False when it may exist elsewhere (lint: a warning).
    """

    manifests: Mapping[tuple[str, str], Mapping[str, Any]] = field(default_factory=dict)
    resolve_template: TemplateResolver | None = None
    authoritative: bool = False

    def find(self, kind: str, namespace: str, name: str) -> Mapping[str, Any] | None:
        found = self.manifests.get((kind, name))
        if found is None and self.resolve_template is not None:
            found = self.resolve_template(kind, namespace, name)
        return found
