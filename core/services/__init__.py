"""Domain services, grouped by area. An area may use a lower one, never the reverse:
everything may use `people`; `orders` uses `catalog`; `usage` uses `orders`; `data`
(reports and indicators) uses `usage` and `orders`."""
