"""Read-only queries behind the admin pages and the JSON API: filtered, paginated, index-friendly."""
