"""The cluster shell: applies the pure planner's actions to a real Kubernetes API.

kube.py        the one place that talks HTTP to the API server (official `kubernetes` client), with client-side
               rate limiting, retries on 429/5xx/timeouts with backoff and jitter, and per-call metrics
workqueue.py   de-duplicating, delaying work queue (a workflow key is processed by one worker at a time)
reconciler.py  one pass for one Workflow: observe Jobs/Pods -> plan() -> apply actions, one status write
cron.py        CronWorkflow scheduling: a pure decision function and its shell
leader.py      leader election on a coordination.k8s.io Lease
controller.py  watches, workers, leader election and the /metrics /healthz /readyz server
"""
