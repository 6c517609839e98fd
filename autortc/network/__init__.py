"""The network the embedded transport can put between the bots and the agent (issue 13):
impairment profiles (profiles.py, profiles.yaml), seeded packet fates (link.py) and the
receiver's jitter buffer (jitter_buffer.py). Pure: the transport drives them."""
