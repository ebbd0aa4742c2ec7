"""dashboard: a read-only ops page (HTML and JSON) with health, lag, dead letters and recent
activity per direction. It never writes to the APIs or the topics; re-driving stays in syncctl."""
