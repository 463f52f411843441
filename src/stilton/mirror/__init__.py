"""Pre-synced mirrors (selection, dependency closure, filters, the sync engine), air-gap
bundles (export and import) and ``verify``."""
