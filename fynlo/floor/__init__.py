"""The floor plan: areas and their tables, which orders are opened on."""
