"""The queue machinery: the job wrapper, tracking, priorities, rate limits, the serializer."""
