"""The Trellis engine: pure planning (`planning`), templating (`templating`), the Job/Pod layout (`jobspec`),
Argo's status format (`status`), and the shells that apply plans (`cluster`, `local`), plus the programs that
run inside each step's pod (`pod`)."""
