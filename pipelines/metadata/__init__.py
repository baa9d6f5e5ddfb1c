"""The ML Metadata read side: what runs did (`runs`), where an artifact came from (`lineage`, `audit`), each
split into its queries and its formatting (`run_format`, `lineage_format`, `audit_format`)."""
