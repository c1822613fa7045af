"""Event producers: the Kafka publisher, the agent SDK and the `devmetrics emit` command."""

from producers.publisher import DeliveryFailed, Publisher, PublisherError, PublishReport, QueueFull

__all__ = ["DeliveryFailed", "PublishReport", "Publisher", "PublisherError", "QueueFull"]
