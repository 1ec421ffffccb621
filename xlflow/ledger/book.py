"""The ledger: what was sent and received, when, and with which verdict (SQLite).

Every write happens in one transaction, so a run killed at any moment leaves the previous
state intact. `Ledger` is every table family over one connection; each family is a module
of this package (rounds and forms, files and verdicts, the register as parsed, register
versions and lineage, extensions, decisions and reviews, mail fetched and sent), the tables themselves are in
`schema`, and the connection and its transactions in `connection`.
"""

from __future__ import annotations

from .decisions import DecisionTables
from .extensions import ExtensionTables
from .files import FileTables
from .mail import MailTables
from .registers import RegisterTables
from .rounds import RoundTables
from .versions import VersionTables


class Ledger(
    RoundTables,
    FileTables,
    RegisterTables,
    VersionTables,
    ExtensionTables,
    DecisionTables,
    MailTables,
):
    """The ledger of a working folder: every table family over one SQLite connection."""
