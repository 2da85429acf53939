"""OpenClaw watching itself: scraped gauges, in-app alert rules, reachability checks."""
