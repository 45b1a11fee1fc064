"""Management by data: figures and indicators built on orders, usage and the catalog (the console's
dashboard, and the idle report, evaluation and purchase check as they come). Uses orders/, usage/ and
catalog/; nothing below imports it."""
