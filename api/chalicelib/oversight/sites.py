"""The access provider's connected websites: the filing rate's denominator (notice 二.(二)3(2)).

A ``connected_site`` record is one website (domain) a provider connects, in the province of
its subject, with when it was connected, whether it holds an approved filing (``filed``) and,
for a site connected before on-site verification began (``pre_2010``, 三.(一)6: such sites
were to be re-verified in person by the end of September 2010), when that re-verification
was done. The provider's access system reports them (``POST /connected-sites``); the demo
seeder makes them for its synthetic archive.
Records are found by province, ordered by ``connected_at``.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass

from ..ports import IndexEntry, Record, Records
from .store import put

CONNECTED_SITE = "connected_site"
CONNECTED_INDEX = "connected"


@dataclass(frozen=True)
class ConnectedSite:
    provider: str
    province: str
    domain: str
    connected_at: str  # UTC ISO timestamp
    filed: bool
    pre_2010: bool = False
    reverified_at: str | None = None  # pre-2010 sites: when re-verified on site

    @property
    def key(self) -> str:
        return f"{self.provider}.{self.domain}"

    def record(self) -> Record:
        """The record to store (new): found by province, ordered by connection time."""
        return Record(CONNECTED_SITE, self.key, asdict(self),
                      indexes=(IndexEntry(CONNECTED_INDEX, self.province, self.connected_at),))


def save_site(records: Records, site: ConnectedSite) -> Record:
    """Store (or replace) a provider's access record of one website."""
    record = site.record()
    return put(records, record.kind, record.key, record.body, record.indexes)
