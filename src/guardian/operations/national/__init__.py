"""Operations: national-scale analysis over the partitioned Parquet store, on Dask.

:mod:`.picture` composes the pure :mod:`guardian.analysis` functions per force (the same code
whichever engine runs it); :mod:`.engine` runs them partition by partition on a
dask.distributed cluster (a LocalCluster by default, or a scheduler address).
"""
