"""The domain: configuration, database, models, services and errors.

Imports nothing else of the project's packages (see DESIGN.md).
"""
