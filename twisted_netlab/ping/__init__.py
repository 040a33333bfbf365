"""ping family: see the package README section."""
