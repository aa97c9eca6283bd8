"""A folder's images decoded once into one file of uint8 rows on disk, memory-mapped on every later run.

Start-up then costs a walk of the folder and a ``stat`` per file, whatever its size, and the images live in the
operating system's page cache (read from disk when they do not fit) rather than in the process. The file is
``images.<digest>.npy`` (a NumPy array, uint8 (N, C, S, S), one row per image in the walk's order) beside
``files.<digest>.json`` (each row's relative path, size and modification time); the digest covers every file's path,
size and mtime, the image shape and the decoding rule, so a file whose name matches is valid as it is. A build writes
a temporary file and renames it into place only when it is complete: a killed build leaves no cache that looks valid.
When files are added, removed or changed, the rows of the files that did not change are copied from the previous
cache and only the others are decoded.
"""

import hashlib
import json
import math
import os
import shutil
import sys
import time
from pathlib import Path

import numpy as np
import PIL
import torchvision
from lightning.pytorch.utilities import rank_zero_only
from torch.utils.data import DataLoader, Dataset

from lit_gans.errors import LitGansError

# what decides the pixels: a new Pillow or torchvision may decode or resize differently, so it starts a new cache
RULE = f"read_image v1, Resize + CenterCrop; Pillow {PIL.__version__}, torchvision {torchvision.__version__}"
CHUNK = 256  # images per decoding task: a progress line every ~1 s, and the task's overhead is nothing beside it
STALE = 3600  # seconds: a temporary file untouched this long was left by a killed build (a live one writes on)


def file_stats(paths: list[str], root: Path) -> list[tuple[str, int, int]]:
    """(path relative to ``root``, size, mtime in ns) of each file, what says whether its cached row still holds."""
    stats, top = [], os.path.join(root, "")
    for path in paths:
        stat = os.stat(path)  # a link's target: that is what is decoded
        name = path[len(top) :] if path.startswith(top) else os.path.relpath(path, root)  # relpath: 40 us a call
        stats.append((name, stat.st_size, stat.st_mtime_ns))
    return stats


def size_text(size: int) -> str:
    return f"{size / 1e9:.2f} GB" if size >= 1e8 else f"{size / 1e6:.1f} MB"


class Progress:
    """A line on stderr, rewritten on a terminal about once a second (a new line every 15 s in a log), saying how
    many images are done and how fast; rank zero only."""

    on_terminal, in_log = 1.0, 15.0  # seconds between lines

    def __init__(self, name: str, total: int):
        self.name, self.total, self.done = name, total, 0
        self.tty = sys.stderr.isatty()
        self.every = self.on_terminal if self.tty else self.in_log
        self.start = self.shown = time.perf_counter()
        self.quiet = rank_zero_only.rank != 0

    def line(self) -> str:
        rate = self.done / max(time.perf_counter() - self.start, 1e-9)
        return f"lit_gans: decoding {self.name}: {self.done:,} / {self.total:,} images ({rate:,.0f}/s)"

    def update(self, done: int) -> None:
        self.done += done
        if self.quiet or time.perf_counter() - self.shown < self.every:
            return
        self.shown = time.perf_counter()
        end = "" if self.tty else "\n"  # a terminal's line is rewritten in place, a log gets a new one
        print(f"\r{self.line()}" if self.tty else self.line(), end=end, file=sys.stderr, flush=True)

    def finish(self, where: Path, size: int) -> None:
        if not self.quiet:
            seconds = time.perf_counter() - self.start
            rate = self.done / max(seconds, 1e-9)
            print(
                f"{chr(13) if self.tty else ''}lit_gans: decoded {self.done:,} images of {self.name} in {seconds:.1f} "
                f"s ({rate:,.0f}/s) into {where} ({size_text(size)}); later runs read them there",
                file=sys.stderr,
                flush=True,
            )


class ChunkWriter(Dataset):
    """Task i decodes chunk i of ``rows`` (items of ``decoded``: (path, uint8 image or the error text)) and writes each
    image into the cache file at its row: what crosses from a worker process is a count, not the pixels.

    Returns (images done, None) or (0, a one-line error naming the file).
    """

    def __init__(self, decoded: Dataset, rows: list[int], path: Path, offset: int, row_bytes: int):
        self.decoded, self.rows, self.path, self.offset, self.row_bytes = decoded, rows, path, offset, row_bytes

    def __len__(self) -> int:
        return math.ceil(len(self.rows) / CHUNK)

    def __getitem__(self, task: int) -> tuple[int, str | None]:
        rows = self.rows[task * CHUNK : (task + 1) * CHUNK]
        fd = os.open(self.path, os.O_WRONLY)
        try:
            for row in rows:
                path, image = self.decoded[row]
                if isinstance(image, str):
                    return 0, f"{path} is not a readable image ({image}); delete or replace it"
                os.pwrite(fd, image.contiguous().numpy(), self.offset + row * self.row_bytes)  # (C, S, S) order
        except OSError as err:  # the disk filled up or went away while writing
            return 0, f"cannot write the image cache {self.path} ({err}); {ROOM}"
        finally:
            os.close(fd)
        return len(rows), None


ROOM = "free some space or pass --data.cache_dir pointing to a folder on a disk with room"


class ImageCache:
    """The decoded images of one folder at one image shape, in ``folder``.

    Args:
        folder: where this folder's cache files live (one folder per image folder, size and channels).
        shape: (C, S, S) of every row.
        files: each image's (relative path, size, mtime in ns), in the order of the rows.
    """

    def __init__(self, folder: Path, shape: tuple[int, int, int], files: list[tuple[str, int, int]]):
        self.folder, self.shape, self.files = folder, tuple(shape), files
        digest = hashlib.sha256(f"{RULE}\n{self.shape}\n".encode())
        for name, size, mtime in files:
            digest.update(f"{name}\0{size}\0{mtime}\n".encode())
        self.digest = digest.hexdigest()[:20]
        self.path = folder / f"images.{self.digest}.npy"
        self.row_bytes = math.prod(self.shape)

    def built(self) -> bool:
        """Whether the cache file is there, complete and of this shape (it is renamed into place only when written)."""
        try:
            images = np.load(self.path, mmap_mode="r")  # the header, and a mapping as long as the file must be
        except (OSError, ValueError):  # not there, or not a NumPy file of that length (damaged by hand): decode again
            return False
        return images.dtype == np.uint8 and images.shape == (len(self.files), *self.shape)

    def build(self, decoded: Dataset, num_workers: int, name: str) -> None:
        """Writes the cache: rows of unchanged files from the newest previous cache here, the rest decoded by
        ``num_workers`` processes (0: this one) from ``decoded`` (row -> (path, image or error text))."""
        try:
            self.folder.mkdir(parents=True, exist_ok=True)
            free = shutil.disk_usage(self.folder).free
        except OSError as err:
            raise LitGansError(
                f"cannot write the image cache in {self.folder} ({err}); pass --data.cache_dir pointing to a "
                f"writable folder"
            ) from err
        size = self.row_bytes * len(self.files)
        if free < size:
            raise LitGansError(
                f"the decoded images need {size_text(size)} in {self.folder}, only {size_text(free)} free there; {ROOM}"
            )
        self.remove_stale()
        temporary = self.path.with_name(f"{self.path.name}.tmp-{os.getpid()}")
        try:
            shape = (len(self.files), *self.shape)
            header = np.lib.format.open_memmap(temporary, mode="w+", dtype=np.uint8, shape=shape)
            offset = header.offset
            del header  # sparse until written; only the header is on disk now
            todo = self.copy_unchanged(temporary, offset)
            progress = Progress(name, len(todo))
            writer = ChunkWriter(decoded, todo, temporary, offset, self.row_bytes)
            for done, error in DataLoader(writer, batch_size=None, num_workers=num_workers):
                if error:
                    raise LitGansError(error)
                progress.update(done)
            with open(temporary, "rb+") as file:
                os.fsync(file.fileno())  # on disk before it is named valid
            index = self.folder / f"files.{self.digest}.json"
            staged = index.with_name(f"{index.name}.tmp-{os.getpid()}")
            staged.write_text(json.dumps({"rule": RULE, "shape": self.shape, "files": self.files}))
            os.replace(staged, index)
            os.replace(temporary, self.path)  # the moment the cache becomes valid
        except OSError as err:
            raise LitGansError(f"cannot write the image cache {self.path} ({err}); {ROOM}") from err
        finally:
            temporary.unlink(missing_ok=True)
        progress.finish(self.path, size)
        self.remove_others()

    def previous(self) -> tuple[np.ndarray, dict[tuple[str, int, int], int]] | None:
        """The newest other complete cache here with the same rule and shape, and its rows by (path, size, mtime)."""
        for index in sorted(self.folder.glob("files.*.json"), key=lambda p: p.stat().st_mtime, reverse=True):
            images_path = index.with_name(f"images.{index.name.split('.')[1]}.npy")
            try:
                listed = json.loads(index.read_text())
                images = np.load(images_path, mmap_mode="r")
            except (OSError, ValueError):
                continue
            if listed.get("rule") != RULE or tuple(listed.get("shape", ())) != self.shape:
                continue
            files = [tuple(f) for f in listed["files"]]
            if images.shape == (len(files), *self.shape):
                return images, {f: row for row, f in enumerate(files)}
        return None

    def copy_unchanged(self, temporary: Path, offset: int) -> list[int]:
        """Copies the rows of unchanged files from the previous cache; returns the rows left to decode."""
        previous = self.previous()
        if previous is None:
            return list(range(len(self.files)))
        images, rows = previous
        todo = []
        fd = os.open(temporary, os.O_WRONLY)
        try:
            for row, key in enumerate(self.files):
                if key in rows:
                    os.pwrite(fd, images[rows[key]], offset + row * self.row_bytes)
                else:
                    todo.append(row)
        finally:
            os.close(fd)
        return todo

    def remove_others(self) -> None:
        """Deletes the caches this one replaces (a process still reading one keeps it until it closes it)."""
        for path in [*self.folder.glob("images.*.npy"), *self.folder.glob("files.*.json")]:
            if self.digest not in path.name:
                path.unlink(missing_ok=True)

    def remove_stale(self) -> None:
        for path in self.folder.glob("*.tmp-*"):
            try:
                if time.time() - path.stat().st_mtime > STALE:
                    path.unlink()
            except OSError:  # removed by another process meanwhile
                pass
