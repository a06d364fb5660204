"""Data in: schemas, loaders, validation, quarantine, reference geography."""
