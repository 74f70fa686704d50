"""Tills: cash sessions of a drawer, their append-only cash ledger, and X and Z reports.

`ledger` is what the payment commands call inside their own transactions (cash sales, cash
refunds); `commands` holds the till.* wire handlers; `reports` builds the X and Z figures.
"""
