"""The document spool: committed files are complete, durable and named safely."""

from __future__ import annotations

import hashlib
import os
import stat
from pathlib import Path

import pytest

from printhost.store import spool as spool_module
from printhost.store.spool import MEMORY_LIMIT, Spool, SpoolError, SpoolLimitExceeded

T0 = 1_700_000_000.0  # 2023-11-14 UTC


def make_spool(tmp_path: Path, **kw: object) -> Spool:
    return Spool(tmp_path / "spool", clock=lambda: T0, **kw)  # type: ignore[arg-type]


async def test_commit_gives_size_sha_and_the_bytes(tmp_path: Path) -> None:
    spool = make_spool(tmp_path)
    chunks = [b"%PDF-1.7\n", b"x" * 100_000, b"", b"%%EOF\n"]
    writer = spool.writer("pdf")
    for chunk in chunks:
        writer.write(chunk)
    done = await writer.commit()
    data = b"".join(chunks)
    assert (done.size, done.sha256) == (len(data), hashlib.sha256(data).hexdigest())
    assert done.path.startswith("20231114/") and done.path.endswith("-pdf")
    assert spool.path(done.path).read_bytes() == data
    assert stat.S_IMODE(spool.path(done.path).stat().st_mode) == 0o600
    assert await writer.commit() == done  # idempotent
    writer.abort()  # no-op after commit
    assert spool.path(done.path).exists()


async def test_commit_fsyncs_file_and_directories(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    synced_dirs: list[Path] = []
    synced_fds: list[int] = []
    real_fsync = os.fsync

    def fsync(fd: int) -> None:
        synced_fds.append(fd)
        real_fsync(fd)

    monkeypatch.setattr(spool_module, "_fsync_dir", synced_dirs.append)
    monkeypatch.setattr(os, "fsync", fsync)
    spool = make_spool(tmp_path)
    for _ in range(2):
        writer = spool.writer("")
        writer.write(b"data")
        await writer.commit()
    day = spool.root / "20231114"
    # The day directory each time; its entry in the root, and the root's entry in its
    # parent, once.
    assert synced_dirs == [day, spool.root, spool.root.parent, day]
    assert len(synced_fds) == 2


async def test_small_documents_touch_the_disk_only_at_commit(tmp_path: Path) -> None:
    spool = make_spool(tmp_path)
    writer = spool.writer("small")
    writer.write(b"x" * 1000)
    path = spool.path(writer.relative)
    assert not path.exists()
    stored = await writer.commit()
    assert path.read_bytes() == b"x" * 1000 and stored.size == 1000


async def test_abort_removes_the_partial_file(tmp_path: Path) -> None:
    spool = make_spool(tmp_path)
    writer = spool.writer("ps")
    writer.write(b"p" * MEMORY_LIMIT)
    writer.write(b"artial")  # past the memory limit: now streamed to the file
    path = spool.path(writer.relative)
    assert path.exists()
    writer.abort()
    writer.abort()
    assert not path.exists()
    with pytest.raises(SpoolError):
        writer.write(b"more")
    with pytest.raises(SpoolError):
        await writer.commit()


async def test_context_manager_aborts_unless_committed(tmp_path: Path) -> None:
    spool = make_spool(tmp_path)
    with pytest.raises(RuntimeError), spool.writer() as writer:
        writer.write(b"abc")
        raise RuntimeError("client went away")
    assert not spool.path(writer.relative).exists()
    with spool.writer() as kept:
        kept.write(b"abc")
        await kept.commit()
    assert spool.path(kept.relative).read_bytes() == b"abc"


async def test_size_limit(tmp_path: Path) -> None:
    spool = make_spool(tmp_path, max_bytes=10)
    exact = spool.writer()
    exact.write(b"12345")
    exact.write(b"67890")
    assert (await exact.commit()).size == 10
    over = spool.writer()
    over.write(b"123456")
    with pytest.raises(SpoolLimitExceeded) as info:
        over.write(b"78901")
    assert info.value.max_bytes == 10
    assert not spool.path(over.relative).exists()
    bigger = spool.writer(max_bytes=20)
    bigger.write(b"x" * 20)
    assert (await bigger.commit()).size == 20
    with pytest.raises(SpoolLimitExceeded):
        spool.writer(max_bytes=0).write(b"x")


async def test_names_are_unique_and_hints_sanitised(tmp_path: Path) -> None:
    spool = make_spool(tmp_path)
    names = set()
    for hint in ["../../etc/passwd", "a b/c", "", "....", "x" * 100, "ok.pdf"]:
        writer = spool.writer(hint)
        relative = writer.relative
        writer.abort()
        day, name = relative.split("/")
        assert day == "20231114" and "/" not in name and ".." not in name
        assert len(name) <= 32 + 1 + 32
        names.add(name)
    assert len(names) == 6
    assert relative.endswith("-ok.pdf")


async def test_path_refuses_escapes_and_delete_removes(tmp_path: Path) -> None:
    spool = make_spool(tmp_path)
    for bad in ["../x", "/etc/passwd", "", "a/../../b"]:
        with pytest.raises(SpoolError):
            spool.path(bad)
    writer = spool.writer()
    writer.write(b"x")
    done = await writer.commit()
    await spool.delete(done.path)
    await spool.delete(done.path)  # already gone is fine
    assert not spool.path(done.path).exists()
