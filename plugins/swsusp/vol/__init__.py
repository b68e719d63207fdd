"""Volatility adapters: thin translations between the format/paging code and Volatility."""
