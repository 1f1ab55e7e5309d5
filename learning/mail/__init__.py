"""E-mail: rendered from paired .txt/.html templates, delivered by a task."""
