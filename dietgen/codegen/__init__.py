"""IR graph -> C sources and build files, through the Jinja templates in templates/."""
