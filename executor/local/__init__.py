"""The local shell: `trellis run` on one machine.

kubelet.py   runs batch/v1 Jobs as host processes in private mount namespaces (sandbox.py, nsexec.py)
runner.py    the loop: observe -> executor.planning.plan -> apply actions
history.py   SQLite run history (status, logs, artifact index)
progress.py  terminal progress and the final `argo get`-like summary
cron.py      CronWorkflow scheduling in the foreground
"""
