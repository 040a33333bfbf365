"""mail family: see the package README section."""
