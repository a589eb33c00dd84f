"""A trial's write-ahead log of tracking records: one JSON-lines file plus an acknowledgement
watermark, so records a trial could not send (server away, process killed) are sent later."""

import json
import logging
import os
import re
import shutil
import tempfile
import uuid
from pathlib import Path
from typing import Any

__all__ = ["Spool", "default_spool_dir", "spool_key"]

logger = logging.getLogger(__name__)

_BAD_FILE_CHARS = re.compile(r"[^A-Za-z0-9_.\-]")
_COMPACT_BYTES = 1 << 20  # rewrite a fully acknowledged spool once it is larger than this


def default_spool_dir() -> Path:
    """``<system temp dir>/lp_sweeps_spool``: fixed, so a restarted trial on the same node finds its spool."""
    return Path(tempfile.gettempdir()) / "lp_sweeps_spool"


def spool_key(sweep_name: str, parent_run_id: str, trial_id: str) -> str:
    """File-name stem of one trial's spool."""
    return "__".join(_BAD_FILE_CHARS.sub("_", part) for part in (sweep_name, parent_run_id[:12], trial_id))


class Spool:
    """Append-only JSON-lines record log of one trial plus its acknowledgement watermark."""

    def __init__(self, spool_dir: Path, key: str) -> None:
        spool_dir.mkdir(parents=True, exist_ok=True)
        self.path = spool_dir / f"{key}.jsonl"
        self.ack_path = spool_dir / f"{key}.acked"
        self.files_dir = spool_dir / f"{key}.files"
        self._acked = self._read_ack()
        self._next_seq = self._acked + 1

    def _read_ack(self) -> int:
        try:
            return int(self.ack_path.read_text().strip() or 0)
        except FileNotFoundError:
            return 0
        except ValueError:
            logger.warning("ignoring unreadable spool watermark %s; replaying the whole spool", self.ack_path)
            return 0

    def load_pending(self) -> list[dict[str, Any]]:
        """Records appended by an earlier writer and never acknowledged, in order."""
        if not self.path.exists():
            return []
        pending = []
        for number, line in enumerate(self.path.read_text(encoding="utf-8").splitlines(), start=1):
            if not line.strip():
                continue
            try:
                record = json.loads(line)
                seq = int(record["seq"])
            except (ValueError, KeyError, TypeError):
                logger.warning("skipping unreadable line %d of spool %s (interrupted write?)", number, self.path)
                continue
            self._next_seq = max(self._next_seq, seq + 1)
            if seq > self._acked:
                pending.append(record)
        if pending:
            logger.info("replaying %d unsent tracking records from spool %s", len(pending), self.path)
        return pending

    def append(self, record: dict[str, Any]) -> dict[str, Any]:
        """Gives ``record`` the next sequence number and appends it to the spool file."""
        record = {"seq": self._next_seq, **record}
        line = json.dumps(record, allow_nan=False)
        with open(self.path, "a", encoding="utf-8") as handle:
            handle.write(line + "\n")
            handle.flush()
        self._next_seq += 1
        return record

    def acknowledge(self, seq: int) -> None:
        """Moves the watermark to ``seq`` (atomic replace, so a crash leaves the old or the new one)."""
        self._acked = seq
        tmp = self.ack_path.with_suffix(".acked.tmp")
        tmp.write_text(str(seq))
        os.replace(tmp, self.ack_path)

    def compact(self) -> None:
        """Empties the spool file once every record in it is acknowledged and it has grown large."""
        if self._acked == self._next_seq - 1 and self.path.exists() and self.path.stat().st_size > _COMPACT_BYTES:
            self.path.write_text("", encoding="utf-8")

    def stage_text(self, text: str, file_name: str) -> Path:
        """Writes ``text`` to a fresh staging folder so the artifact can be uploaded later."""
        folder = self.files_dir / uuid.uuid4().hex
        folder.mkdir(parents=True)
        path = folder / file_name
        path.write_text(text, encoding="utf-8")
        return path

    def remove(self) -> None:
        """Deletes the spool, its watermark and staged files (everything has been sent)."""
        for path in (self.path, self.ack_path):
            path.unlink(missing_ok=True)
        shutil.rmtree(self.files_dir, ignore_errors=True)
