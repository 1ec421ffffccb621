"""The office's mail account: each message fetched into the inbox, and each one sent."""

from __future__ import annotations

from .codec import now_text
from .connection import Connection


class MailTables(Connection):
    """What `xlflow mail` fetched and sent, so that a re-run does neither twice."""

    def fetched_ids(self) -> set[str]:
        """The Message-IDs (and, for a message without one, the sha256) already saved."""
        rows = self.db.execute("SELECT message_id, sha256 FROM mail_fetched")
        return {key for row in rows for key in row if key}

    def record_fetched(
        self, message_id: str, sha256: str, path: str, account: str, folder: str, uid: str
    ) -> None:
        with self.transaction():
            self.db.execute(
                "INSERT INTO mail_fetched(message_id, sha256, path, account, folder, uid, at)"
                " VALUES (?, ?, ?, ?, ?, ?, ?)",
                (message_id, sha256, path, account, folder, uid, now_text()),
            )

    def sent(self, round_id: str, what: str) -> dict[tuple[str, str], str]:
        """(division, the attachment's sha256) -> when, for what was already sent."""
        rows = self.db.execute(
            "SELECT division, sha256, at FROM mail_sent WHERE round=? AND what=?",
            (round_id, what),
        )
        return {(division, sha): at for division, sha, at in rows}

    def record_sent(
        self,
        round_id: str,
        what: str,
        division: str,
        message_id: str,
        recipients: str,
        attachment: str,
        sha256: str,
    ) -> None:
        with self.transaction():
            self.db.execute(
                "INSERT INTO mail_sent(round, what, division, message_id, recipients,"
                " attachment, sha256, at) VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
                (round_id, what, division, message_id, recipients, attachment, sha256, now_text()),
            )
