"""Orders from booking to settlement (slots, group-buys, reports, ratings) and the
money they move: payments, escrow, the ledger, vouchers and refunds."""
