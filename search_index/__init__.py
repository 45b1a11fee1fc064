"""Search: encoders, lexical and vector indexes, fusion, and the index lifecycle.

Imports nothing of the project but `core`.
"""
