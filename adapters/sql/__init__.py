"""SQL engine construction shared by the governance store and SQL data sources."""
