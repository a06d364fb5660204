"""One task model: cocoon visits and patrol visits as tasks with a place, a window, an assignee,
a status and an outcome."""
