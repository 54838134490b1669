"""The filing center's oversight (notice 二.(二)3 and 三.(三)), computed on the archive's records.

* ``idcheck``: the automatic check of every ID number and unit code, at arrival and in bulk;
  failures are stored as ``finding`` records.
* ``sampling``: the monthly stratified sample of new filings for phone spot checks, drawn
  reproducibly from a published seed, and the ``spot_check`` records of their outcomes.
* ``assessment``: the quarterly figures per province and per access provider.
* ``sites``: the provider's access records (``connected_site``), the filing rate's denominator.
* ``periods``: months and quarters in China Standard Time, and the ``month`` index.
* ``charts`` and ``render``: SVG charts, CSV and Markdown.
* ``service``: the API's view of findings, and the provider's feed of connected sites.

This package imports nothing from ``chalicelib.filings``, so ``FilingService`` may import
``idcheck`` (the arrival hook) and ``periods`` (the month index) without a cycle.
"""
