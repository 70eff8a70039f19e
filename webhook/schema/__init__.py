"""The one schema source for Argo's four kinds, and what is derived from it.

- `KINDS`: kind -> plural, singular, listKind, scope, shortNames (for the webhook, CLI and reconciler).
- `schema_errors(obj)`: the strict schema check, every problem as a FieldError with path and fix.
- `schema_for(kind)`: the strict JSON Schema of one kind (self-contained, with Kubernetes definitions; shared
  and cached: do not mutate it).
- `field_path(kind, location)`: a location as a Kubernetes field path, map keys in brackets
  (`spec.hooks[exit].template`, `metadata.labels[app.kubernetes.io/name]`).
- `python -m webhook.schema.generate [--check]`: writes or checks crds/*.yaml.

The types themselves live in webhook.schema.argo, written with the builder in webhook.schema.dsl.
"""

from webhook.schema.argo import API_VERSION, GROUP, KINDS, VERSION, KindInfo
from webhook.schema.strict import schema_for
from webhook.schema.validator import field_path, schema_errors

__all__ = ["API_VERSION", "GROUP", "KINDS", "VERSION", "KindInfo", "field_path", "schema_errors", "schema_for"]
