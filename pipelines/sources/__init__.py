"""API connectors: Ticketmaster, Spotify and setlist.fm over one resilient HTTP client."""
