"""Browser-playable copies: a downscaled VP8 WebM of each video browsers cannot play (AVI, MKV, MPEG-4 part 2).

A load does not wait for them: the video is searchable at once and its items row says ``proxy: pending``
(``playable: false`` in the API) until the copy is written by one background thread at low CPU priority,
after which ``/stream`` serves it. Copies still pending when the service stopped are resumed at start-up.
A deleted video's copy is abandoned (the thread stops at its next frame), and so is every copy on a drop.
"""

from __future__ import annotations

import contextlib
import logging
import os
import threading
from concurrent.futures import ThreadPoolExecutor

import numpy as np
from sqlalchemy import Table, select, update

from common.sql import SQLStore

from .media import MediaFiles
from .video import ProxyWriter, VideoReader

log = logging.getLogger(__name__)

PENDING, READY, FAILED, NONE = "pending", "ready", "failed", "none"


class _Abandoned(Exception):
    """The video was deleted (or everything dropped) while its copy was being written."""


def _low_priority() -> None:
    """Lower this thread's CPU priority (Linux: niceness is per thread)."""
    with contextlib.suppress(OSError, AttributeError):  # other platforms: normal priority
        os.setpriority(os.PRIO_PROCESS, threading.get_native_id(), 15)


class ProxyMaker:
    """Writes playable copies one at a time in a low-priority thread; state kept in the items table."""

    def __init__(self, sql: SQLStore, items: Table, media: MediaFiles, max_side: int) -> None:
        self.sql = sql
        self.items = items
        self.media = media
        self.max_side = max_side
        self._executor = ThreadPoolExecutor(1, thread_name_prefix="video-proxy", initializer=_low_priority)
        self._lock = threading.Lock()
        self._epoch = 0
        self._abandoned: set[int] = set()

    def submit(self, video_id: int) -> None:
        with self._lock:
            self._abandoned.discard(video_id)
            epoch = self._epoch
        self._executor.submit(self._make, video_id, epoch)

    def resume(self) -> int:
        """Queue the copies a previous run left pending; returns how many."""
        with self.sql.begin() as conn:
            pending = conn.execute(select(self.items.c.id).where(self.items.c.proxy == PENDING)).scalars().all()
        for video_id in pending:
            self.submit(int(video_id))
        return len(pending)

    def abandon(self, ids: list[int]) -> None:
        """Stop working on these videos' copies (they are being deleted)."""
        with self._lock:
            self._abandoned.update(int(i) for i in ids)

    def abandon_all(self) -> None:
        with self._lock:
            self._epoch += 1

    def close(self) -> None:
        self.abandon_all()
        self._executor.shutdown(wait=False, cancel_futures=True)

    def _alive(self, video_id: int, epoch: int) -> bool:
        with self._lock:
            return epoch == self._epoch and video_id not in self._abandoned

    def _make(self, video_id: int, epoch: int) -> None:
        if not self._alive(video_id, epoch):
            return
        with self.sql.begin() as conn:
            row = conn.execute(select(self.items.c.file).where(self.items.c.id == video_id)).first()
        if row is None:
            return
        tmp = self.media.folder(video_id) / "playable.tmp.webm"
        state = FAILED
        try:
            with VideoReader(self.media.folder(video_id) / row.file) as reader:
                writer = ProxyWriter(tmp, reader.fps, reader.width, reader.height, self.max_side)
                try:
                    for index, bgr in reader.frames():
                        if index % 25 == 0 and not self._alive(video_id, epoch):
                            raise _Abandoned
                        writer(np.asarray(bgr), index)
                finally:
                    writer.close()
            tmp.replace(self.media.proxy(video_id))
            state = READY
        except _Abandoned:
            tmp.unlink(missing_ok=True)
            return
        except Exception:
            if not self._alive(video_id, epoch):
                return
            log.exception("cannot write a playable copy of video %s", video_id)
            tmp.unlink(missing_ok=True)
        with self.sql.begin() as conn:
            conn.execute(update(self.items).where(self.items.c.id == video_id).values(proxy=state))
