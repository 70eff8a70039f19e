"""Storage drivers behind one small interface: S3 (any S3-compatible store, via `minio`), a local directory
(the local runner's repository), HTTP, Git and raw data.

    driver = driver_for(location, secrets=lookup)      # lookup(secret name, key) -> value | None
    with driver.open_reader(location) as stream: ...   # one object, streamed
    driver.download_to(location, dest)                 # an object to a file, or a key prefix to a directory
    driver.upload_file(location, src)                  # a file, or a directory as a key prefix (archive: none)
    driver.upload_stream(location, stream)             # unknown length (tar+gzip produced on the fly)

Everything streams in chunks of at most a few MiB: no artifact is ever held whole in memory. Failures raise
ArtifactError with a message naming the artifact's location and the cause (never the credentials).
"""

from __future__ import annotations

import base64
import contextlib
import io
import os
import shutil
import tempfile
from collections.abc import Callable, Iterator, Mapping
from contextlib import AbstractContextManager, contextmanager
from functools import partial
from pathlib import Path
from typing import TYPE_CHECKING, Any, BinaryIO, Protocol

from executor.artifacts.archive import copy_stream

if TYPE_CHECKING:
    import urllib.request

SecretLookup = Callable[[str, str], "str | None"]
PART_SIZE = 8 * 1024 * 1024  # multipart part size: bounds the upload buffer (S3 minimum is 5 MiB)


class ArtifactError(Exception):
    """An artifact could not be read or written; the message says which one and why."""


class ArtifactNotFound(ArtifactError):
    """The location names nothing (no object, no key prefix, no file, HTTP 404): optional inputs are skipped."""


class Driver(Protocol):
    def open_reader(self, location: Mapping[str, Any]) -> AbstractContextManager[BinaryIO]: ...

    def download_to(self, location: Mapping[str, Any], dest: Path) -> None: ...

    def upload_file(self, location: Mapping[str, Any], src: Path) -> None: ...

    def upload_stream(self, location: Mapping[str, Any], stream: BinaryIO) -> None: ...


def describe(location: Mapping[str, Any]) -> str:
    """A human description of a location, without secrets: `s3://bucket/key`, `http(s)://...`, ..."""
    if "s3" in location:
        s3 = location["s3"]
        return f"s3://{s3.get('bucket', '?')}/{s3.get('key', '')}"
    if "local" in location:
        return str(_local_path(location))
    if "http" in location:
        return str(location["http"].get("url", "?")).split("?", 1)[0]
    if "git" in location:
        return f"git {location['git'].get('repo', '?')}"
    if "raw" in location:
        return "raw data"
    return f"unknown location {sorted(location)}"


def driver_for(location: Mapping[str, Any], *, secrets: SecretLookup) -> Driver:
    if "s3" in location:
        return S3Driver(secrets)
    if "local" in location:
        return LocalDriver()
    if "http" in location:
        return HttpDriver(secrets)
    if "git" in location:
        return GitDriver(secrets)
    if "raw" in location:
        return RawDriver()
    raise ArtifactError(
        f"artifact location {sorted(location)} is not supported; use one of s3, http, git, raw (or local)"
    )


def env_secrets(environ: Mapping[str, str]) -> SecretLookup:
    """Look secrets up in the env vars jobspec wires from `valueFrom.secretKeyRef` (see secret_env_name)."""
    from executor.artifacts.repository import secret_env_name

    def lookup(name: str, key: str) -> str | None:
        return environ.get(secret_env_name(name, key))

    return lookup


# ---------------------------------------------------------------------------------------------------------------
# S3
# ---------------------------------------------------------------------------------------------------------------


class S3Driver:
    def __init__(self, secrets: SecretLookup) -> None:
        self._secrets = secrets

    def _client(self, s3: Mapping[str, Any]) -> Any:
        from minio import Minio

        endpoint = str(s3.get("endpoint") or "s3.amazonaws.com")
        secure = not bool(s3.get("insecure", False))
        for scheme in ("http://", "https://"):
            if endpoint.startswith(scheme):
                secure = scheme == "https://"
                endpoint = endpoint[len(scheme) :]
        access = self._secret(s3, "accessKeySecret")
        secret = self._secret(s3, "secretKeySecret")
        token = self._secret(s3, "sessionTokenSecret")
        return Minio(
            endpoint.rstrip("/"),
            access_key=access,
            secret_key=secret,
            session_token=token,
            secure=secure,
            region=s3.get("region") or None,
        )

    def _secret(self, s3: Mapping[str, Any], field: str) -> str | None:
        ref = s3.get(field)
        if not isinstance(ref, Mapping) or not ref.get("name"):
            return None
        value = self._secrets(str(ref["name"]), str(ref.get("key", "")))
        if value is None:
            raise ArtifactError(
                f'{field} Secret "{ref["name"]}" key "{ref.get("key")}" was not provided to this container; '
                "check the Secret exists in the workflow's namespace and has that key"
            )
        return value

    @staticmethod
    def _bucket_key(s3: Mapping[str, Any]) -> tuple[str, str]:
        bucket, key = s3.get("bucket"), s3.get("key")
        if not bucket or not key:
            raise ArtifactError(f"s3 location needs bucket and key, found bucket={bucket!r} key={key!r}")
        return str(bucket), str(key).lstrip("/")

    @contextmanager
    def open_reader(self, location: Mapping[str, Any]) -> Iterator[BinaryIO]:
        s3 = location["s3"]
        bucket, key = self._bucket_key(s3)
        client = self._client(s3)
        with _s3_errors(location, "read"):
            response = client.get_object(bucket, key)
        try:
            yield response
        finally:
            response.close()
            response.release_conn()

    def download_to(self, location: Mapping[str, Any], dest: Path) -> None:
        from minio.error import S3Error

        s3 = location["s3"]
        bucket, key = self._bucket_key(s3)
        client = self._client(s3)
        with _s3_errors(location, "download"):
            try:
                client.stat_object(bucket, key)
            except S3Error as exc:
                if exc.code not in ("NoSuchKey", "NoSuchObject"):
                    raise
            else:
                _write_atomically(dest, lambda sink: self._copy_object(client, bucket, key, sink))
                return
            prefix = key.rstrip("/") + "/"
            found = False
            for obj in client.list_objects(bucket, prefix=prefix, recursive=True):
                found = True
                if obj.is_dir or obj.object_name.endswith("/"):
                    continue
                target = _inside(dest, obj.object_name[len(prefix) :])
                name: str = obj.object_name
                _write_atomically(target, partial(self._copy_object, client, bucket, name))
            if not found:
                raise ArtifactNotFound(f"{describe(location)}: no such object or key prefix")
            dest.mkdir(parents=True, exist_ok=True)

    @staticmethod
    def _copy_object(client: Any, bucket: str, key: str, sink: BinaryIO) -> None:
        response = client.get_object(bucket, key)
        try:
            for chunk in response.stream(1024 * 1024):
                sink.write(chunk)
        finally:
            response.close()
            response.release_conn()

    def upload_file(self, location: Mapping[str, Any], src: Path) -> None:
        s3 = location["s3"]
        bucket, key = self._bucket_key(s3)
        client = self._client(s3)
        with _s3_errors(location, "upload"):
            if src.is_dir():
                # a directory marker, so that an empty directory still exists as an artifact
                client.put_object(bucket, f"{key.rstrip('/')}/", io.BytesIO(b""), 0)
                for file in sorted(p for p in src.rglob("*") if p.is_file()):
                    rel = file.relative_to(src).as_posix()
                    client.fput_object(
                        bucket, f"{key.rstrip('/')}/{rel}", str(file), part_size=PART_SIZE, num_parallel_uploads=1
                    )
            else:
                client.fput_object(bucket, key, str(src), part_size=PART_SIZE, num_parallel_uploads=1)

    def upload_stream(self, location: Mapping[str, Any], stream: BinaryIO) -> None:
        s3 = location["s3"]
        bucket, key = self._bucket_key(s3)
        client = self._client(s3)
        with _s3_errors(location, "upload"):
            client.put_object(bucket, key, stream, length=-1, part_size=PART_SIZE, num_parallel_uploads=1)


@contextmanager
def _s3_errors(location: Mapping[str, Any], verb: str) -> Iterator[None]:
    from minio.error import MinioException, S3Error

    try:
        yield
    except S3Error as exc:
        kind = ArtifactNotFound if exc.code in ("NoSuchKey", "NoSuchObject") else ArtifactError
        raise kind(f"cannot {verb} {describe(location)}: {exc.code}: {exc.message}") from exc
    except MinioException as exc:
        raise ArtifactError(f"cannot {verb} {describe(location)}: {exc}") from exc
    except (OSError, ValueError) as exc:
        endpoint = location["s3"].get("endpoint", "s3.amazonaws.com")
        raise ArtifactError(f"cannot {verb} {describe(location)} at endpoint {endpoint}: {exc}") from exc


# ---------------------------------------------------------------------------------------------------------------
# Local directory repository: {local: {path: <root>, key: <key>}} (or a full path without key)
# ---------------------------------------------------------------------------------------------------------------


def _local_path(location: Mapping[str, Any]) -> Path:
    local = location["local"]
    root = Path(str(local.get("path", "")))
    key = str(local.get("key") or "").lstrip("/")
    return _inside(root, key) if key else root


class LocalDriver:
    @contextmanager
    def open_reader(self, location: Mapping[str, Any]) -> Iterator[BinaryIO]:
        path = _local_path(location)
        try:
            f = path.open("rb")
        except FileNotFoundError as exc:
            raise ArtifactNotFound(f"{path}: no such artifact in the local repository") from exc
        except OSError as exc:
            raise ArtifactError(f"cannot read {path}: {exc.strerror}") from exc
        with f:
            yield f

    def download_to(self, location: Mapping[str, Any], dest: Path) -> None:
        src = _local_path(location)
        if src.is_dir():
            dest.mkdir(parents=True, exist_ok=True)
            for file in sorted(p for p in src.rglob("*") if p.is_file()):
                self._copy(file, _inside(dest, file.relative_to(src).as_posix()))
        elif src.is_file():
            self._copy(src, dest)
        else:
            raise ArtifactNotFound(f"{src}: no such artifact in the local repository")

    def upload_file(self, location: Mapping[str, Any], src: Path) -> None:
        dest = _local_path(location)
        if src.is_dir():
            dest.mkdir(parents=True, exist_ok=True)
            for file in sorted(p for p in src.rglob("*") if p.is_file()):
                self._copy(file, _inside(dest, file.relative_to(src).as_posix()))
        else:
            self._copy(src, dest)

    def upload_stream(self, location: Mapping[str, Any], stream: BinaryIO) -> None:
        dest = _local_path(location)
        try:
            _write_atomically(dest, lambda sink: copy_stream(stream, sink))
        except OSError as exc:
            raise ArtifactError(f"cannot write {dest}: {exc.strerror or exc}") from exc

    @staticmethod
    def _copy(src: Path, dest: Path) -> None:
        try:
            with src.open("rb") as f:
                mode = os.fstat(f.fileno()).st_mode & 0o777
                _write_atomically(dest, lambda sink: copy_stream(f, sink), mode=mode)
        except OSError as exc:
            raise ArtifactError(f"cannot copy {src} to {dest}: {exc.strerror or exc}") from exc


# ---------------------------------------------------------------------------------------------------------------
# HTTP, Git, raw (inputs; HTTP also accepts uploads by PUT)
# ---------------------------------------------------------------------------------------------------------------


class HttpDriver:
    """GET for inputs, PUT for outputs; `headers` [{name, value}] and `auth.basicAuth` {usernameSecret,
    passwordSecret} as Argo's HTTP artifacts (oauth2 and client certificates are not supported)."""

    TIMEOUT = 60.0

    def __init__(self, secrets: SecretLookup | None = None) -> None:
        self._secrets = secrets

    def _request(self, location: Mapping[str, Any], method: str = "GET", data: Any = None) -> urllib.request.Request:
        import urllib.request

        http = location["http"]
        url = str(http.get("url") or "")
        if not url.startswith(("http://", "https://")):
            raise ArtifactError(f"http artifact url {url!r} must start with http:// or https://")
        headers = {str(h["name"]): str(h.get("value", "")) for h in http.get("headers") or [] if "name" in h}
        auth = http.get("auth") or {}
        unsupported = sorted(k for k in auth if k != "basicAuth")
        if unsupported:
            raise ArtifactError(f"http artifact auth {unsupported[0]} is not supported; use basicAuth or headers")
        basic = auth.get("basicAuth")
        if isinstance(basic, Mapping):
            user = self._secret(basic, "usernameSecret")
            password = self._secret(basic, "passwordSecret")
            token = base64.b64encode(f"{user}:{password}".encode()).decode()
            headers["Authorization"] = f"Basic {token}"
        return urllib.request.Request(url, data=data, headers=headers, method=method)

    def _secret(self, body: Mapping[str, Any], field: str) -> str:
        ref = body.get(field) or {}
        value = self._secrets(str(ref.get("name")), str(ref.get("key"))) if self._secrets and ref else None
        if value is None:
            raise ArtifactError(
                f'basicAuth.{field} Secret "{ref.get("name")}" key "{ref.get("key")}" was not provided to this '
                "container; check the Secret exists in the workflow's namespace and has that key"
            )
        return value

    @contextmanager
    def open_reader(self, location: Mapping[str, Any]) -> Iterator[BinaryIO]:
        import urllib.error
        import urllib.request

        try:
            response = urllib.request.urlopen(self._request(location), timeout=self.TIMEOUT)
        except urllib.error.HTTPError as exc:
            kind = ArtifactNotFound if exc.code == 404 else ArtifactError
            raise kind(f"cannot download {describe(location)}: HTTP {exc.code} {exc.reason}") from exc
        except (urllib.error.URLError, OSError) as exc:
            reason = getattr(exc, "reason", exc)
            raise ArtifactError(f"cannot download {describe(location)}: {reason}") from exc
        with response:
            yield response

    def download_to(self, location: Mapping[str, Any], dest: Path) -> None:
        with self.open_reader(location) as stream:
            _write_atomically(dest, lambda sink: copy_stream(stream, sink))

    def upload_file(self, location: Mapping[str, Any], src: Path) -> None:
        if src.is_dir():
            raise ArtifactError(f"cannot upload directory {src} over HTTP; archive it (archive: tar)")
        with src.open("rb") as body:
            request = self._request(location, "PUT", body)
            request.add_header("Content-Length", str(src.stat().st_size))
            self._send(location, request)

    def upload_stream(self, location: Mapping[str, Any], stream: BinaryIO) -> None:
        request = self._request(location, "PUT", iter(lambda: stream.read(1024 * 1024), b""))
        request.add_header("Transfer-Encoding", "chunked")
        self._send(location, request)

    def _send(self, location: Mapping[str, Any], request: urllib.request.Request) -> None:
        import urllib.error
        import urllib.request

        try:
            with urllib.request.urlopen(request, timeout=self.TIMEOUT):
                pass
        except urllib.error.HTTPError as exc:
            raise ArtifactError(f"cannot upload {describe(location)}: HTTP {exc.code} {exc.reason}") from exc
        except (urllib.error.URLError, OSError) as exc:
            raise ArtifactError(f"cannot upload {describe(location)}: {getattr(exc, 'reason', exc)}") from exc


class GitDriver:
    """Clones with the `git` binary: `depth` makes a shallow fetch, `revision` (branch, tag or commit) is checked
    out, `usernameSecret`/`passwordSecret` become an HTTP Basic header passed through git's environment config
    (never on the command line)."""

    def __init__(self, secrets: SecretLookup) -> None:
        self._secrets = secrets

    def open_reader(self, location: Mapping[str, Any]) -> AbstractContextManager[BinaryIO]:
        raise ArtifactError(f"{describe(location)} is a repository, not a file; give the artifact a path")

    def download_to(self, location: Mapping[str, Any], dest: Path) -> None:
        import subprocess

        git = location["git"]
        repo = str(git.get("repo") or "")
        if not repo:
            raise ArtifactError("git artifact needs repo; set git.repo to the repository URL")
        env = dict(os.environ, GIT_TERMINAL_PROMPT="0")
        user = self._ref(git, "usernameSecret")
        password = self._ref(git, "passwordSecret")
        if user is not None or password is not None:
            token = base64.b64encode(f"{user or ''}:{password or ''}".encode()).decode()
            env.update(
                GIT_CONFIG_COUNT="1",
                GIT_CONFIG_KEY_0="http.extraHeader",
                GIT_CONFIG_VALUE_0=f"Authorization: Basic {token}",
            )
        if git.get("insecureIgnoreHostKey"):
            env["GIT_SSH_COMMAND"] = "ssh -o StrictHostKeyChecking=no -o UserKnownHostsFile=/dev/null"
        revision = str(git.get("revision") or git.get("branch") or "HEAD")
        depth = git.get("depth")
        dest.parent.mkdir(parents=True, exist_ok=True)
        if dest.exists():
            shutil.rmtree(dest) if dest.is_dir() else dest.unlink()
        fetch = ["git", "-C", str(dest), "fetch", "--quiet"]
        if depth:
            fetch.append(f"--depth={int(depth)}")
        steps = [
            ["git", "init", "--quiet", str(dest)],
            ["git", "-C", str(dest), "remote", "add", "origin", repo],
            [*fetch, "origin", revision],
            ["git", "-C", str(dest), "checkout", "--quiet", "FETCH_HEAD"],
        ]
        if not git.get("disableSubmodules"):
            steps.append(["git", "-C", str(dest), "submodule", "update", "--quiet", "--init", "--recursive"])
        for argv in steps:
            result = subprocess.run(argv, env=env, capture_output=True, text=True, check=False)
            if result.returncode != 0:
                detail = (result.stderr or result.stdout).strip().splitlines()
                raise ArtifactError(
                    f"cannot clone {describe(location)} at revision {revision}: "
                    f"{detail[-1] if detail else f'git exited with {result.returncode}'}"
                )

    def _ref(self, git: Mapping[str, Any], field: str) -> str | None:
        ref = git.get(field)
        if not isinstance(ref, Mapping) or not ref.get("name"):
            return None
        value = self._secrets(str(ref["name"]), str(ref.get("key", "")))
        if value is None:
            raise ArtifactError(f'{field} Secret "{ref["name"]}" key "{ref.get("key")}" was not provided')
        return value

    def upload_file(self, location: Mapping[str, Any], src: Path) -> None:
        raise ArtifactError("git artifacts are inputs only; upload outputs to the artifact repository")

    def upload_stream(self, location: Mapping[str, Any], stream: BinaryIO) -> None:
        raise ArtifactError("git artifacts are inputs only; upload outputs to the artifact repository")


class RawDriver:
    @contextmanager
    def open_reader(self, location: Mapping[str, Any]) -> Iterator[BinaryIO]:
        yield io.BytesIO(str(location["raw"].get("data", "")).encode())

    def download_to(self, location: Mapping[str, Any], dest: Path) -> None:
        data = str(location["raw"].get("data", "")).encode()
        _write_atomically(dest, lambda sink: sink.write(data))

    def upload_file(self, location: Mapping[str, Any], src: Path) -> None:
        raise ArtifactError("raw artifacts are inputs only; upload outputs to the artifact repository")

    def upload_stream(self, location: Mapping[str, Any], stream: BinaryIO) -> None:
        raise ArtifactError("raw artifacts are inputs only; upload outputs to the artifact repository")


# ---------------------------------------------------------------------------------------------------------------


def _inside(root: Path, rel: str) -> Path:
    """`root/rel`, refusing keys that would escape `root` (`..`, absolute names)."""
    target = (root / rel).resolve() if root.is_absolute() else root / rel
    base = root.resolve() if root.is_absolute() else root
    if rel.startswith("/") or ".." in Path(rel).parts or not (target == base or base in target.parents):
        raise ArtifactError(f"key {rel!r} escapes {root}; keys must be relative paths without '..'")
    return root / rel


def _write_atomically(dest: Path, write: Callable[[BinaryIO], object], *, mode: int = 0o644) -> None:
    """Write through a temporary file beside `dest`, renamed into place only when complete."""
    dest.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{dest.name}.", dir=dest.parent)
    try:
        os.fchmod(fd, mode)  # mkstemp makes 0600; artifacts are ordinary files main may read as another user
        with os.fdopen(fd, "wb") as sink:
            write(sink)
        if dest.is_dir() and not dest.is_symlink():
            shutil.rmtree(dest)
        os.replace(tmp, dest)
    except BaseException:
        with contextlib.suppress(OSError):
            os.unlink(tmp)
        raise
