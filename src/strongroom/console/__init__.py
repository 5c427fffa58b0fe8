"""The security console: server-rendered pages where the SOC, the data protection officer
and administrators work (docs/console.md). An OAuth client of the embedded authorization
server and an adapter like `api/`: every page view calls a gate use case, so the policy
decides it and the journal records it like any API request."""
