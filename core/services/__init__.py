"""Domain services: plain functions over an explicit session; they flush, never commit."""
