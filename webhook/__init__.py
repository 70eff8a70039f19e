"""Trellis's front door: the API definition of the four Argo kinds, validation, defaulting and admission.

Layering (checked by tests/unit/test_layers.py): nothing here imports `executor` shells, Flask is imported only
by `webhook.app`, and the pure modules (schema, validation, defaulting, admission) do no I/O.
"""
