"""Payments: cash, card through Stripe, open-banking QR, refunds, fees."""
