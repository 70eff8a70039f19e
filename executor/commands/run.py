"""`trellis run FILE [FILE...]`: run a Workflow on this machine, no cluster needed.

    trellis run FILE [FILE...] [-p name=value]... [--entrypoint T] [--output json|yaml|wide] [--logs]
                [--dump-jobs DIR] [--parallelism N] [--artifact-repo DIR] [--artifact-repo-config FILE]
                [--templates DIR] [--secrets FILE] [--runtime host|docker|podman]

The first Workflow in the files runs (else the first CronWorkflow's workflowSpec, once; else the first
WorkflowTemplate, as `argo submit --from`); WorkflowTemplates and ClusterWorkflowTemplates in the files or in
`--templates DIR` serve templateRef/workflowTemplateRef. ConfigMaps in the files, in `--templates DIR`, in
`--secrets FILE` or (when a parameter's configMapKeyRef names one nobody passed) beside the workflow's file or one
folder down serve `valueFrom.configMapKeyRef` (labelled `workflows.argoproj.io/configmap-type: Parameter`, as on a
cluster).
Everything is linted first with the webhook's rules.
Exit code: 0 iff the Workflow Succeeded; 1 when it did not or the input is invalid; 2 for usage errors.

`--runtime host` (the default) runs every container from this machine's filesystem in a private mount namespace
(images are ignored). `--runtime podman|docker` runs the user's containers (main, the template's own init containers
and sidecars) in that engine with their images, while Trellis's `trellis-exec init|wait` containers stay in the host
sandbox (executor/local/engine.py); the engine is checked first (`podman info`) and a non-working one is a usage
error (exit 2).

The composition root: reads flags, environment (TRELLIS_HOME, TRELLIS_SANDBOX, AWS_* credentials) and files, builds
the frozen settings and starts executor.local.runner.Runner with the real plan()/observe_job().
"""

from __future__ import annotations

import argparse
import base64
import concurrent.futures
import itertools
import os
import random
import shutil
import signal
import sys
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from types import FrameType
from typing import Any, TextIO

import yaml

from executor.contract import PlanContext
from executor.local.engine import ENGINES, ContainerEngine, EngineKind, EngineUnavailable
from executor.local.history import History
from executor.local.kubelet import KubeletSettings, LocalObjects
from executor.local.progress import PlainListener, RichListener, summary
from executor.local.runner import (
    FINISHED,
    Listener,
    ManifestError,
    Runner,
    RunnerSettings,
    default_engine,
    dumps,
    parse_parameter,
    pid_alive,
    workflow_from,
)
from executor.local.sandbox import Sandbox, SandboxKind, SandboxUnavailable, detect
from executor.planning.helpers import direct_template_refs

HELP = "run a Workflow on this machine (no cluster): live progress, history, exit code 0 iff Succeeded"
TEMPLATE_KINDS = ("WorkflowTemplate", "ClusterWorkflowTemplate")
LOCAL_GRACE_SECONDS = 10.0  # cap on terminationGracePeriodSeconds when killing a step here (Ctrl-C, deadlines)
HOST_ENV_KEYS = (
    *("PATH", "HOME", "USER", "LOGNAME", "LANG", "LC_ALL", "TZ", "TERM", "SSL_CERT_FILE", "REQUESTS_CA_BUNDLE"),
    *("http_proxy", "https_proxy", "no_proxy", "HTTP_PROXY", "HTTPS_PROXY", "NO_PROXY"),
)


def add_arguments(parser: argparse.ArgumentParser, command: str) -> None:
    parser.add_argument("files", nargs="+", metavar="FILE", help="the Workflow, plus any WorkflowTemplates it uses")
    parser.add_argument("-p", "--parameter", action="append", default=[], metavar="NAME=VALUE")
    parser.add_argument("--entrypoint", help="template to start from instead of spec.entrypoint")
    parser.add_argument("-o", "--output", choices=("text", "json", "yaml", "wide"), default="text")
    parser.add_argument("--logs", action="store_true", help="stream the steps' logs, prefixed by step name")
    parser.add_argument("--dump-jobs", type=Path, metavar="DIR", help="write every Job manifest run into DIR")
    parser.add_argument("--parallelism", type=int, default=os.cpu_count() or 1, help="steps running at once")
    parser.add_argument("--artifact-repo", type=Path, metavar="DIR", help="local artifact repository directory")
    parser.add_argument(
        "--artifact-repo-config",
        type=Path,
        metavar="FILE",
        help="workflow-controller-configmap or artifact-repositories ConfigMap (as in the cluster)",
    )
    parser.add_argument("--templates", type=Path, action="append", default=[], metavar="DIR")
    parser.add_argument("--secrets", type=Path, action="append", default=[], metavar="FILE")
    parser.add_argument(
        "--runtime",
        choices=("host", *ENGINES),
        default="host",
        help="host (default): commands run from this machine's filesystem, images ignored; podman|docker: the"
        " template's containers run in that engine with their images (Trellis's init/wait stay on the host)",
    )


class UsageError(Exception):
    """Bad flags or unreadable files: exit code 2."""


class SetupError(Exception):
    """The run cannot start as configured (credentials, repository, a live run of that name): exit code 1."""


def trellis_home(environ: Mapping[str, str]) -> Path:
    """$TRELLIS_HOME, else $XDG_DATA_HOME/trellis, else ~/.local/share/trellis."""
    if environ.get("TRELLIS_HOME"):
        return Path(environ["TRELLIS_HOME"])
    base = environ.get("XDG_DATA_HOME") or str(Path(environ.get("HOME") or Path.home()) / ".local" / "share")
    return Path(base) / "trellis"


# -----------------------------------------------------------------------------------------------------------------
# Input: manifests, templates, secrets, artifact repository
# -----------------------------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Inputs:
    runnable: Mapping[str, Any]
    templates: Mapping[tuple[str, str], Mapping[str, Any]]
    others: Sequence[Mapping[str, Any]]  # ConfigMaps, Secrets, ... given alongside


def _texts(paths: Sequence[Path]) -> list[tuple[str, str]]:
    out = []
    for path in paths:
        if path.is_dir():
            files = sorted(p for p in path.rglob("*") if p.is_file() and p.suffix in {".yaml", ".yml", ".json"})
        elif path.is_file():
            files = [path]
        else:
            raise UsageError(f"{path}: no such file or directory")
        for f in files:
            try:
                out.append((str(f), f.read_text(encoding="utf-8")))
            except (OSError, UnicodeDecodeError) as exc:
                raise UsageError(f"{f}: cannot read it: {exc}") from exc
    return out


def template_refs(obj: Any) -> set[tuple[str, str]]:
    """Every (kind, name) a manifest's templateRef / workflowTemplateRef points at."""
    found: set[tuple[str, str]] = set()
    stack = [obj]
    while stack:
        item = stack.pop()
        if isinstance(item, Mapping):
            found.update(direct_template_refs(item))
            stack.extend(item.values())
        elif isinstance(item, list):
            stack.extend(item)
    return found


MAX_DISCOVERY_FILES = 500


def discover_templates(files: Sequence[Path], texts: Sequence[tuple[str, str]], err: TextIO) -> list[tuple[str, str]]:
    """Texts of WorkflowTemplates / ClusterWorkflowTemplates the given manifests reference but nobody passed:
    looked for beside the given files, then one directory up (Argo's examples keep templates in sibling
    folders). A convenience of the local runner only (a cluster has them stored); each use is announced."""

    def documents(text: str) -> list[Mapping[str, Any]]:
        try:
            return [d for d in yaml.safe_load_all(text) if isinstance(d, Mapping)]
        except yaml.YAMLError:
            return []

    known = {
        (str(d.get("kind")), str((d.get("metadata") or {}).get("name"))) for _, text in texts for d in documents(text)
    }
    wanted = set().union(*(template_refs(d) for _, text in texts for d in documents(text))) - known
    if not wanted:
        return []
    given = {str(f.resolve()) for f in files}
    # Folders as the user named them (not resolved), so the notes show paths they recognise.
    roots = list(dict.fromkeys(p.absolute().parent for p in files))
    candidates: list[Path] = []
    # beside the given files, then in the sibling folders one level up (never a recursive walk of a big tree)
    patterns = [(root, "*") for root in roots] + [(root.parent, "*/*") for root in roots]
    for base, pattern in patterns:
        for path in sorted(itertools.islice(base.glob(pattern), MAX_DISCOVERY_FILES)):
            if path.suffix in {".yaml", ".yml", ".json"} and path.is_file() and str(path.resolve()) not in given:
                candidates.append(path)
    added: list[tuple[str, str]] = []
    seen: set[Path] = set()
    for path in candidates[:MAX_DISCOVERY_FILES]:
        if not wanted or path in seen:
            continue
        seen.add(path)
        try:
            text = path.read_text(encoding="utf-8")
        except (OSError, UnicodeDecodeError):
            continue
        docs = documents(text)
        defines = {(str(d.get("kind")), str((d.get("metadata") or {}).get("name"))) for d in docs}
        hit = defines & wanted
        if hit:
            for kind, name in sorted(hit):
                print(f'note: using {kind} "{name}" from {path} (pass --templates DIR to choose)', file=err)
            added.append((str(path), text))
            wanted = (wanted - defines) | (set().union(*(template_refs(d) for d in docs)) - known - defines)
            known |= defines
    return added


def read_inputs(files: Sequence[Path], template_dirs: Sequence[Path], err: TextIO) -> Inputs:
    """Lint everything (exit 1 with the lint lines on errors) and pick what to run."""
    from webhook.lint import lint

    given_texts = _texts(files)
    supplied = [*given_texts, *_texts(template_dirs)]
    report = lint([*supplied, *discover_templates(files, supplied, err)])
    for finding in report.warnings:
        if "is not among the linted files" not in finding.text():  # a local run checks references itself, below
            print(finding.text(), file=err)
    if report.errors:
        raise ManifestError("\n".join(f.text() for f in report.errors))
    given = {source for source, _ in given_texts}
    docs = [d for d in report.documents if d.source in given]
    templates: dict[tuple[str, str], Mapping[str, Any]] = {}
    for d in report.documents:
        if d.kind in TEMPLATE_KINDS:
            templates.setdefault((d.kind, d.name), d.obj)
    runnable = None
    for kind in ("Workflow", "CronWorkflow", "WorkflowTemplate", "ClusterWorkflowTemplate"):
        runnable = next((d.obj for d in docs if d.kind == kind), None)
        if runnable is not None:
            break
    if runnable is None:
        names = ", ".join(str(f) for f in files)
        raise ManifestError(f"{names}: no Workflow, CronWorkflow or WorkflowTemplate to run")
    missing = sorted(set().union(template_refs(runnable), *map(template_refs, templates.values())) - set(templates))
    if missing:
        names = ", ".join(f'{kind} "{name}"' for kind, name in missing)
        raise ManifestError(
            f"{files[0]}: {names} referenced but not given (and not found beside it); pass the file that defines "
            "it after the workflow's, or use --templates DIR"
        )
    return Inputs(runnable=runnable, templates=templates, others=[d.obj for d in report.skipped])


def local_objects(docs: Sequence[Mapping[str, Any]]) -> LocalObjects:
    """Secrets (data base64, stringData) and ConfigMaps by name."""
    secrets: dict[str, dict[str, bytes]] = {}
    config_maps: dict[str, dict[str, str]] = {}
    for d in docs:
        name = str((d.get("metadata") or {}).get("name") or "")
        if d.get("kind") == "Secret":
            values = {k: base64.b64decode(str(v)) for k, v in (d.get("data") or {}).items()}
            values.update({k: str(v).encode() for k, v in (d.get("stringData") or {}).items()})
            secrets[name] = values
        elif d.get("kind") == "ConfigMap":
            config_maps[name] = {k: str(v) for k, v in (d.get("data") or {}).items()}
    return LocalObjects(secrets=secrets, config_maps=config_maps)


def load_documents(paths: Sequence[Path]) -> list[dict[str, Any]]:
    docs: list[dict[str, Any]] = []
    for source, text in _texts(paths):
        try:
            docs += [d for d in yaml.safe_load_all(text) if isinstance(d, dict)]
        except yaml.YAMLError as exc:
            raise UsageError(f"{source}: not valid YAML: {exc}") from exc
    return docs


def artifact_repository(
    workflow: Mapping[str, Any], config: Sequence[Mapping[str, Any]], default_dir: Path
) -> dict[str, Any]:
    """The repository the run uses: from `--artifact-repo-config` documents exactly as the cluster resolves it
    (executor.artifacts.repository), else the local directory."""
    from executor.artifacts.repository import CONTROLLER_CONFIGMAP, RepositoryError, resolve_repository

    configmaps: dict[str, Mapping[str, Any]] = {}
    for doc in config:
        if doc.get("kind") == "ConfigMap":
            configmaps[str((doc.get("metadata") or {}).get("name"))] = doc
        elif "artifactRepository" in doc:  # a bare controller config
            configmaps[CONTROLLER_CONFIGMAP] = {
                "data": {"artifactRepository": yaml.safe_dump(doc["artifactRepository"])}
            }
    if config and not configmaps:
        raise UsageError(
            "--artifact-repo-config: no ConfigMap found; give the workflow-controller-configmap or an"
            " artifact-repositories ConfigMap"
        )
    try:
        repo = resolve_repository(workflow, configmaps) if configmaps else None
    except RepositoryError as exc:
        raise SetupError(f"--artifact-repo-config: {exc}") from exc
    return repo if repo is not None else {"local": {"path": str(default_dir.resolve())}}


def add_repository_credentials(
    repository: Mapping[str, Any], objects: LocalObjects, environ: Mapping[str, str]
) -> LocalObjects:
    """Secrets the repository refers to, from --secrets or else the environment (AWS_ACCESS_KEY_ID,
    AWS_SECRET_ACCESS_KEY, AWS_SESSION_TOKEN); the values are never printed."""
    from executor.artifacts.repository import SECRET_FIELDS

    env_for = dict(zip(SECRET_FIELDS, ("AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "AWS_SESSION_TOKEN"), strict=True))
    secrets = {k: dict(v) for k, v in objects.secrets.items()}
    for body in repository.values():
        if not isinstance(body, Mapping):
            continue
        for field_name, variable in env_for.items():
            ref = body.get(field_name)
            if not isinstance(ref, Mapping) or not ref.get("name") or not ref.get("key"):
                continue
            name, key = str(ref["name"]), str(ref["key"])
            if key in secrets.get(name, {}):
                continue
            if variable in environ:
                secrets.setdefault(name, {})[key] = environ[variable].encode()
                continue
            raise SetupError(
                f"artifact repository: {field_name} refers to Secret {name!r} key {key!r}, which is not given;"
                f" pass --secrets FILE with that Secret, or set {variable}"
            )
    return LocalObjects(secrets=secrets, config_maps=objects.config_maps)


# -----------------------------------------------------------------------------------------------------------------
# Running
# -----------------------------------------------------------------------------------------------------------------


class _Interrupts:
    """Ctrl-C once: Stop (exit handlers run); twice: Terminate; three times: give up at once."""

    def __init__(self, runner: Runner, err: TextIO) -> None:
        self.runner = runner
        self.err = err
        self.count = 0

    def __call__(self, signum: int, frame: FrameType | None) -> None:
        self.count += 1
        if self.count == 1:
            print("\nStopping: running steps are killed, exit handlers run. Ctrl-C again to terminate.", file=self.err)
            self.runner.request_shutdown("Stop")
        elif self.count == 2:
            print("\nTerminating: exit handlers are skipped. Ctrl-C again to quit at once.", file=self.err)
            self.runner.request_shutdown("Terminate")
        else:
            raise KeyboardInterrupt


@dataclass(frozen=True)
class Session:
    """What every run of one command shares, built once from flags, environment and files."""

    home: Path
    history: History
    inputs: Inputs
    objects: LocalObjects
    repo_docs: Sequence[Mapping[str, Any]]
    artifact_dir: Path
    sandbox: Sandbox
    parallelism: int
    environ: Mapping[str, str]
    dump_jobs: Path | None = None
    logs: bool = False
    engine: ContainerEngine | None = None  # --runtime podman|docker
    # ConfigMap manifests by name (given files, --templates DIR, --secrets FILE, or found beside the workflow):
    # what parameters' valueFrom.configMapKeyRef read, with the label rule a cluster applies.
    config_maps: Mapping[str, Mapping[str, Any]] = field(default_factory=dict)


def check_runtime(args: argparse.Namespace) -> None:
    if args.parallelism < 1:
        raise UsageError("--parallelism must be at least 1")


def find_engine(kind: str, environ: Mapping[str, str]) -> ContainerEngine | None:
    """The container engine `--runtime` names, checked to work (None for the host runtime)."""
    if kind not in ENGINES:
        return None
    engine_kind: EngineKind = "podman" if kind == "podman" else "docker"
    try:
        return ContainerEngine.find(engine_kind, environ)
    except EngineUnavailable as exc:
        raise UsageError(str(exc)) from exc


def open_session(args: argparse.Namespace, err: TextIO) -> Session:
    """Raises UsageError (exit 2), ManifestError (lint errors, exit 1) or SandboxUnavailable (exit 1)."""
    check_runtime(args)
    environ = os.environ
    home = trellis_home(environ)
    prefer: SandboxKind | None = None
    if environ.get("TRELLIS_SANDBOX") in {"bwrap", "unshare"}:
        prefer = "bwrap" if environ["TRELLIS_SANDBOX"] == "bwrap" else "unshare"
    # The sandbox and engine probes mostly wait for child processes: run them while the files are linted.
    with concurrent.futures.ThreadPoolExecutor(max_workers=2) as pool:
        probe = pool.submit(detect, home / "sandbox-probe", prefer=prefer)
        engine_probe = pool.submit(find_engine, args.runtime, environ)
        inputs = read_inputs([Path(f) for f in args.files], list(args.templates), err)
        given = [*inputs.others, *load_documents(list(args.secrets))]
        config_maps = {
            str((d.get("metadata") or {}).get("name") or ""): d for d in given if d.get("kind") == "ConfigMap"
        }
        found = discover_config_maps([Path(f) for f in args.files], inputs, config_maps, err)
        config_maps.update((str(d["metadata"]["name"]), d) for d in found)
        objects = local_objects([*given, *found])
        repo_docs = load_documents([args.artifact_repo_config]) if args.artifact_repo_config else []
        engine = engine_probe.result()
        sandbox = probe.result()
    return Session(
        home=home,
        history=History(home / "history.db"),
        inputs=inputs,
        objects=objects,
        repo_docs=repo_docs,
        artifact_dir=args.artifact_repo or home / "artifacts",
        sandbox=sandbox,
        parallelism=args.parallelism,
        environ=environ,
        dump_jobs=args.dump_jobs,
        logs=bool(args.logs),
        engine=engine,
        config_maps=config_maps,
    )


def discover_config_maps(
    files: Sequence[Path], inputs: Inputs, known: Mapping[str, Mapping[str, Any]], err: TextIO
) -> list[dict[str, Any]]:
    """ConfigMaps the parameters read (valueFrom.configMapKeyRef) that nobody passed, looked for beside the given
    files, then one folder down (Argo's examples keep them in configmaps/); each use is announced. The planner
    checks their label and keys as on a cluster."""
    from executor.planning.configmaps import config_map_names

    wanted = set(config_map_names(inputs.runnable, inputs.templates)) - set(known)
    if not wanted:
        return []
    given = {p.resolve() for p in files}
    found: list[dict[str, Any]] = []
    roots = list(dict.fromkeys(p.absolute().parent for p in files))  # as named, for the notes
    for base, pattern in [(root, "*") for root in roots] + [(root, "*/*") for root in roots]:
        for path in sorted(itertools.islice(base.glob(pattern), MAX_DISCOVERY_FILES)):
            if (
                not wanted
                or path.suffix not in {".yaml", ".yml", ".json"}
                or path.resolve() in given
                or not path.is_file()
            ):
                continue
            try:
                docs = [d for d in yaml.safe_load_all(path.read_text(encoding="utf-8")) if isinstance(d, dict)]
            except (OSError, UnicodeDecodeError, yaml.YAMLError):
                continue
            for doc in docs:
                name = (doc.get("metadata") or {}).get("name") if doc.get("kind") == "ConfigMap" else None
                if isinstance(name, str) and name in wanted:
                    print(f'note: using ConfigMap "{name}" from {path} (pass the file to choose)', file=err)
                    wanted.discard(name)
                    found.append(doc)
    return found


def new_workflow(
    session: Session, obj: Mapping[str, Any], *, parameters: Mapping[str, str], entrypoint: str | None
) -> dict[str, Any]:
    """The defaulted, named Workflow object a run starts from (ManifestError when it cannot be made)."""
    from webhook.defaulting import apply_defaults

    return workflow_from(
        apply_defaults(obj),
        parameters=parameters,
        entrypoint=entrypoint,
        now=datetime.now(UTC),
        rng=random.Random(),
        taken=session.history.name_taken,
    )


def make_runner(session: Session, workflow: Mapping[str, Any], listener: Listener) -> Runner:
    """A Runner for `workflow`, recorded in history (SetupError when it cannot start)."""
    repository = artifact_repository(workflow, session.repo_docs, session.artifact_dir)
    objects = add_repository_credentials(repository, session.objects, session.environ)
    name = workflow["metadata"]["name"]
    history = session.history
    previous = history.get_run(name)
    if previous is not None:
        if previous.phase not in FINISHED and pid_alive(previous.pid):
            raise SetupError(f"workflow {name!r} is running already (pid {previous.pid}); wait for it")
        history.delete_run(name)
        shutil.rmtree(previous.run_dir, ignore_errors=True)
    run_dir = session.home / "runs" / name
    local_repo = (repository.get("local") or {}).get("path")
    if local_repo:
        Path(local_repo).mkdir(parents=True, exist_ok=True)
    settings = RunnerSettings(
        context=PlanContext(
            templates=dict(session.inputs.templates),
            artifact_repository=repository,
            runtime="local",
            config_maps=dict(session.config_maps),
        ),
        kubelet=KubeletSettings(
            root=run_dir,
            sandbox=session.sandbox,
            host_env={k: session.environ[k] for k in HOST_ENV_KEYS if k in session.environ},
            objects=objects,
            capacity=session.parallelism,
            namespace=str(workflow["metadata"].get("namespace") or "default"),
            shared_paths=(str(local_repo),) if local_repo else (),
            max_grace_seconds=LOCAL_GRACE_SECONDS,
            engine=session.engine,
        ),
        dump_jobs=session.dump_jobs,
        stream_logs=session.logs,
    )
    history.start_run(workflow, pid=os.getpid(), run_dir=str(run_dir))
    return Runner(workflow, settings=settings, history=history, engine=default_engine(), listener=listener)


def run_to_end(runner: Runner) -> dict[str, Any]:
    try:
        return runner.run()
    finally:
        _tidy(runner.settings.kubelet.root)


def make_listener(stream: TextIO, *, logs: bool) -> RichListener | PlainListener:
    return RichListener(stream, logs=logs) if stream.isatty() else PlainListener(stream, logs=logs)


class Wakers:
    """SIGUSR1 (sent by `trellis resume` once it recorded a request in history) wakes these runners. Installed
    before any run is recorded, so the signal never meets the default action (which would end the process)."""

    def __init__(self) -> None:
        self.runners: list[Runner] = []
        self.previous: Any = signal.signal(signal.SIGUSR1, self)

    def __call__(self, signum: int, frame: FrameType | None) -> None:
        for runner in list(self.runners):
            runner.wake()

    def restore(self) -> None:
        signal.signal(signal.SIGUSR1, self.previous)


def run(args: argparse.Namespace) -> int:
    wakers = Wakers()
    try:
        return _run(args, wakers)
    finally:
        wakers.restore()


def _run(args: argparse.Namespace, wakers: Wakers) -> int:
    out, err = sys.stdout, sys.stderr
    machine = args.output in {"json", "yaml"}
    try:
        session = open_session(args, err)
        parameters = dict(parse_parameter(p) for p in args.parameter)
        workflow = new_workflow(session, session.inputs.runnable, parameters=parameters, entrypoint=args.entrypoint)
        listener = make_listener(err if machine else out, logs=args.logs)
        runner = make_runner(session, workflow, listener)
        wakers.runners.append(runner)
    except ManifestError as exc:
        print(str(exc), file=err)
        return 1
    except (SandboxUnavailable, SetupError) as exc:
        print(f"trellis run: {exc}", file=err)
        return 1
    except UsageError as exc:
        print(f"trellis run: {exc}", file=err)
        return 2
    interrupts = _Interrupts(runner, err)
    previous_int = signal.signal(signal.SIGINT, interrupts)
    previous_term = signal.signal(signal.SIGTERM, interrupts)
    try:
        if isinstance(listener, RichListener):
            with listener:
                final = run_to_end(runner)
        else:
            final = run_to_end(runner)
    finally:
        signal.signal(signal.SIGINT, previous_int)
        signal.signal(signal.SIGTERM, previous_term)
    phase = (final.get("status") or {}).get("phase")
    if machine:
        out.write(dumps(final, args.output))
    else:
        out.write("\n" + summary(final, pod_names=runner.pod_names))
    out.flush()
    return 0 if phase == "Succeeded" else 1


def _tidy(run_dir: Path) -> None:
    """Keep the logs of a finished run; drop its scratch directories (private /tmp, emptyDirs)."""
    for pod in (run_dir / "pods").glob("*"):
        for scratch in ("tmp", "volumes", "workdirs", "engine-env"):
            shutil.rmtree(pod / scratch, ignore_errors=True)
    # Claims (run_dir/volumes/pvc) stay with the run's record, as a cluster keeps a failed run's claims.
