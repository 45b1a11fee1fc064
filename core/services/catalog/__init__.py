"""The catalog: import and export of institutions, instruments and services, their
schema, admin switches, the public catalog queries, synonyms and search bookkeeping."""
