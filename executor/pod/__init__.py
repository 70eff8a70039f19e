"""Programs that run inside each step's pod: `trellis-exec init` and `trellis-exec wait` (executor.pod.main).

This package's `config` module is pure (jobspec imports it); `init`, `wait` and `main` do I/O.
"""
