"""The baseline: a minimal aiohttp + uvloop + msgpack server doing only the raw work."""
