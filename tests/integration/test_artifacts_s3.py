"""The S3 driver against a real S3-compatible server on 127.0.0.1 (moto, tests/s3server.py) with the real
`minio` client: objects, key prefixes (archive: none directories), streams of unknown length, errors."""

from __future__ import annotations

import io
import os
from pathlib import Path
from typing import Any

import pytest

from executor.artifacts.archive import extract_tar_gz, tar_gz_reader
from executor.artifacts.drivers import ArtifactError, ArtifactNotFound, LocalDriver, driver_for
from executor.artifacts.repository import location_in_repository
from tests.s3server import S3Server, s3_bucket, s3_server  # noqa: F401  (pytest fixtures)


def secrets_of(server: S3Server) -> Any:
    values = {("s3-credentials", "accesskey"): server.access_key, ("s3-credentials", "secretkey"): server.secret_key}
    return lambda name, key: values.get((name, key))


def test_a_file_goes_up_and_comes_back_byte_for_byte(
    tmp_path: Path,
    s3_server: S3Server,  # noqa: F811
    s3_bucket: str,  # noqa: F811
) -> None:
    location = location_in_repository(s3_server.repository(s3_bucket), "wf/pod/data.bin")
    driver = driver_for(location, secrets=secrets_of(s3_server))
    src = tmp_path / "data.bin"
    src.write_bytes(bytes(range(256)) * 4096)
    driver.upload_file(location, src)
    driver.download_to(location, tmp_path / "copy" / "data.bin")
    assert (tmp_path / "copy" / "data.bin").read_bytes() == src.read_bytes()
    with driver.open_reader(location) as stream:
        assert stream.read(4) == bytes(range(4))


def test_a_directory_is_a_key_prefix_and_downloads_back_to_a_directory(
    tmp_path: Path,
    s3_server: S3Server,  # noqa: F811
    s3_bucket: str,  # noqa: F811
) -> None:
    src = tmp_path / "output"
    (src / "deep").mkdir(parents=True)
    (src / "a.csv").write_text("a")
    (src / "deep" / "b.csv").write_text("b")
    location = location_in_repository(s3_server.repository(s3_bucket), "wf/pod/output")
    driver = driver_for(location, secrets=secrets_of(s3_server))
    driver.upload_file(location, src)
    keys = sorted(o.object_name for o in s3_server.client().list_objects(s3_bucket, recursive=True))
    assert keys == ["wf/pod/output/", "wf/pod/output/a.csv", "wf/pod/output/deep/b.csv"]  # marker + files
    driver.download_to(location, tmp_path / "input")
    assert (tmp_path / "input" / "deep" / "b.csv").read_text() == "b"
    assert (tmp_path / "input" / "a.csv").read_text() == "a"


def test_a_tar_gz_stream_of_unknown_length_uploads_in_parts(
    tmp_path: Path,
    s3_server: S3Server,  # noqa: F811
    s3_bucket: str,  # noqa: F811
) -> None:
    src = tmp_path / "big"
    src.mkdir()
    parts = {f"part{i}.bin": os.urandom(7 * 1024 * 1024) for i in range(3)}  # incompressible: > 2 parts of 8 MiB
    for name, data in parts.items():
        (src / name).write_bytes(data)
    location = location_in_repository(s3_server.repository(s3_bucket), "wf/pod/big.tgz")
    driver = driver_for(location, secrets=secrets_of(s3_server))
    with tar_gz_reader(src, compression_level=1) as stream:
        driver.upload_stream(location, stream)
    with driver.open_reader(location) as stream:
        extract_tar_gz(stream, tmp_path / "back")
    assert {p.name: p.read_bytes() for p in (tmp_path / "back").iterdir()} == parts


def test_missing_objects_are_not_found_and_other_failures_are_errors(
    tmp_path: Path,
    s3_server: S3Server,  # noqa: F811
    s3_bucket: str,  # noqa: F811
) -> None:
    location = location_in_repository(s3_server.repository(s3_bucket), "wf/pod/nothing.tgz")
    driver = driver_for(location, secrets=secrets_of(s3_server))
    with pytest.raises(ArtifactNotFound) as missing:
        driver.download_to(location, tmp_path / "x")
    assert str(missing.value) == f"s3://{s3_bucket}/wf/pod/nothing.tgz: no such object or key prefix"
    with pytest.raises(ArtifactNotFound) as missing_reader, driver.open_reader(location):
        pass
    assert str(missing_reader.value).startswith(f"cannot read s3://{s3_bucket}/wf/pod/nothing.tgz: NoSuchKey")
    nobucket = location_in_repository(s3_server.repository("absent-bucket"), "k")
    with pytest.raises(ArtifactError) as failed:
        driver.upload_stream(nobucket, io.BytesIO(b"x"))
    assert not isinstance(failed.value, ArtifactNotFound)
    assert str(failed.value) == (
        "cannot upload s3://absent-bucket/k: NoSuchBucket: The specified bucket does not exist"
    )


def test_an_unreachable_endpoint_is_named_in_the_error(tmp_path: Path, s3_server: S3Server) -> None:  # noqa: F811
    repo = s3_server.repository("b")
    repo["s3"]["endpoint"] = "http://127.0.0.1:9"  # discard port: nothing listens
    location = location_in_repository(repo, "k")
    with pytest.raises(ArtifactError) as failed:
        driver_for(location, secrets=secrets_of(s3_server)).download_to(location, tmp_path / "k")
    assert str(failed.value).startswith("cannot download s3://b/k at endpoint http://127.0.0.1:9: ")


def test_local_repository_keys_cannot_escape_the_root(tmp_path: Path) -> None:
    location = {"local": {"path": str(tmp_path / "repo"), "key": "../outside"}}
    (tmp_path / "f").write_text("x")
    with pytest.raises(ArtifactError) as escaped:
        LocalDriver().upload_file(location, tmp_path / "f")
    assert str(escaped.value) == (f"key '../outside' escapes {tmp_path}/repo; keys must be relative paths without '..'")


def test_empty_directories_and_file_modes_survive_the_round_trip(
    tmp_path: Path,
    s3_server: S3Server,  # noqa: F811
    s3_bucket: str,  # noqa: F811
) -> None:
    (tmp_path / "empty").mkdir()
    (tmp_path / "tool.sh").write_text("#!/bin/sh\n")
    (tmp_path / "tool.sh").chmod(0o750)
    s3 = location_in_repository(s3_server.repository(s3_bucket), "wf/pod/empty")
    local = {"local": {"path": str(tmp_path / "repo"), "key": "wf/pod/empty"}}
    for location in (s3, local):
        driver = driver_for(location, secrets=secrets_of(s3_server))
        driver.upload_file(location, tmp_path / "empty")
        back = tmp_path / f"back-{next(iter(location))}"
        driver.download_to(location, back)
        assert (back.is_dir(), list(back.iterdir())) == (True, [])
    s3_file = location_in_repository(s3_server.repository(s3_bucket), "wf/pod/tool.sh")
    local_file = {"local": {"path": str(tmp_path / "repo"), "key": "wf/pod/tool.sh"}}
    modes = []
    for location in (s3_file, local_file):
        driver = driver_for(location, secrets=secrets_of(s3_server))
        driver.upload_file(location, tmp_path / "tool.sh")
        target = tmp_path / f"tool-{next(iter(location))}.sh"
        driver.download_to(location, target)
        modes.append(target.stat().st_mode & 0o777)
    assert modes == [0o644, 0o750]  # S3 keeps no mode: an ordinary readable file; a local copy keeps it
