"""molt.toml: parsing, each fleet's configuration, start templates, health settings and
the table of drivers that serve a backend name."""
