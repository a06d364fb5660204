"""Hot-spot patrols: a week's plan of short (about 15-minute) visits to the few small places
where most street-violence harm falls, random patrol and control days for an evaluable design,
a visit log and delivered dosage against plan (Koper curve).

See ``docs/patrols.md`` for the workflow and :mod:`guardian.operations.patrols.service` for the
functions.
"""
