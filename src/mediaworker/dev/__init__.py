"""For trying mediaworker on one machine: the demo and the throw-away Redis and Postgres."""
