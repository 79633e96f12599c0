"""Long-lived connections: WebSocket, SSE, long polling and pub/sub (arrive with their issue)."""
