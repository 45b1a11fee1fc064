"""Instrument states from the current sensors and the machine-hours built on them."""
