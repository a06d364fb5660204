"""Operations: Street Safe, the public "I feel unsafe here" page and its analyst side.

Split by job: :mod:`.config` (the force's settings and the reason codes), :mod:`.keys` (the
daily rotating key of the client hashes), :mod:`.area` (the force area and districts),
:mod:`.intake` (validation, abuse resistance and the durable write of one report),
:mod:`.aggregate` (cells with a minimum count, clusters, trend, reasons by district, the
comparison with recorded crime: pure pandas), :mod:`.service` (reads and actions on the store)
and :mod:`.importer` (a force's existing export).
"""
