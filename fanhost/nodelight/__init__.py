"""The node-light agent (fanhost/nodelight/agent.py)."""
